"""How the loader words its `InputError`s: one paragraph each, values shown briefly, close
matches suggested, files named as the user gave them."""

from __future__ import annotations

import difflib
import os
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from balancer.errors import InputError

_A_DATE = "a date like 2025-01-31"


def _error(problem: str, **where: Any) -> InputError:
    """An InputError whose message is one paragraph, whatever the texts it quotes contain."""
    return InputError(" ".join(str(problem).split()), **where)


def _listing(items: Any, limit: int = 12) -> str:
    items = items if isinstance(items, (list, tuple, pd.Series)) else list(items)
    shown = ", ".join(str(x) for x in list(items[:limit]))
    return shown + (f", … ({len(items)} in all)" if len(items) > limit else "")


def _suggest(word: Any, choices: Any) -> str:
    if len(choices) > 5000:  # difflib would take seconds; nobody types such a list by hand anyway
        return ""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: Any) -> str:
    text = str(value) if isinstance(value, date) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _display(path: Path) -> str:
    return os.path.normpath(path)


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base)).as_posix()


def _read_bytes(path: Path, missing: InputError) -> bytes:
    """The file's bytes; `missing` is raised when it does not exist (the caller knows who named it)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise missing from None
    except OSError as exc:  # a folder, no permission, …
        raise _error(f"cannot read {_display(path)} ({exc.strerror or exc})", file=missing.file,
                     line=missing.line, field=missing.field, expected="a readable file") from None

