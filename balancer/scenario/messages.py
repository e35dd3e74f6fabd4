"""How the loader words its `InputError`s: one paragraph each, values shown briefly, close
matches suggested, files named as the user gave them."""

from __future__ import annotations

import difflib
import os
import stat
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, Iterator

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


_WITHIN: ContextVar[Path | None] = ContextVar("within", default=None)
"""While set (`load_scenario(within=…)`), the only folder files may be read from."""


@contextmanager
def _confined(folder: Path | None) -> Iterator[None]:
    token = _WITHIN.set(None if folder is None else Path(os.path.realpath(folder)))
    try:
        yield
    finally:
        _WITHIN.reset(token)


def _read_bytes(path: Path, missing: InputError, limit: int) -> bytes:
    """The file's bytes; `missing` is raised when it does not exist (the caller knows who named it).
    Only a regular file of at most `limit` bytes is read: a device (`/dev/zero`) never ends and a
    FIFO may never answer, so opening never blocks (O_NONBLOCK) and what was opened is checked
    before a byte is read. While `_confined`, a file outside the folder (by `..`, an absolute path
    or a link) is refused before it is opened: an uploaded scenario must not read the server's files."""
    where = dict(file=missing.file, line=missing.line, field=missing.field)
    if (within := _WITHIN.get()) is not None:
        path = Path(os.path.realpath(path))  # links resolved once, and what is opened is what was checked
        if not path.is_relative_to(within):
            raise _error("the file it names is outside the scenario's folder", **where,
                         expected="a file in the scenario's own folder, named without a folder (e.g. cases.csv)")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise missing from None
    except OSError as exc:  # no permission, a dangling link, …
        raise _error(f"cannot read {_display(path)} ({exc.strerror or exc})", **where,
                     expected="a readable file") from None
    try:
        info = os.fstat(fd)  # of what was opened: no swap between a check and the read
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, a pipe or a socket)"
            raise _error(f"{_display(path)} is {kind}", **where, expected="a regular file")
        if info.st_size > limit:
            raise _error(f"{_display(path)} has {info.st_size:,} bytes, more than the {limit:,} this tool reads",
                         **where, expected=f"a file of at most {limit // 2**20:,} MB (README, \"Limits\")")
        data = _read_all(fd, limit + 1)
    except OSError as exc:
        raise _error(f"cannot read {_display(path)} ({exc.strerror or exc})", **where,
                     expected="a readable file") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise _error(f"{_display(path)} has more than {limit:,} bytes", **where,
                     expected=f"a file of at most {limit // 2**20:,} MB")
    return data


def _read_all(fd: int, most: int) -> bytes:
    chunks, size = [], 0
    while size < most and (chunk := os.read(fd, min(most - size, 2**24))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


# Errors a whole pass collects (`validate`) instead of stopping at the first.
_FOUND: ContextVar[list[InputError] | None] = ContextVar("found", default=None)


class _Enough(Exception):
    """As many errors as asked for are collected: the pass stops."""


def _report(error: InputError) -> None:
    """Raise `error`; while `_collecting`, note it instead and let the caller go on with its next
    check (only where going on is safe: a check whose rows are simply left out)."""
    found = _FOUND.get()
    if found is None:
        raise error
    if all((e.file, e.line, e.field) != (error.file, error.line, error.field) for e in found):
        found.append(error)  # one error per place: the first said what is wrong there
    if len(found) >= _LIMIT.get():
        raise _Enough


_LIMIT: ContextVar[int] = ContextVar("limit", default=1)


@contextmanager
def _collecting(limit: int) -> Iterator[list[InputError]]:
    """Inside: `_report` collects up to `limit` errors; an error raised ends the pass and is
    collected too. The list holds them all at the end (empty: none)."""
    found: list[InputError] = []
    tokens = _FOUND.set(found), _LIMIT.set(limit)
    try:
        yield found
    except _Enough:
        pass
    except InputError as error:
        if all(e.message != error.message for e in found):
            found.append(error)
    finally:
        _FOUND.reset(tokens[0])
        _LIMIT.reset(tokens[1])

