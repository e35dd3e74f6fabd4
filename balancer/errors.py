"""Errors a user can act on. The CLI turns them into exit codes; the library only raises them."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

MAX_QUOTED = 200
"""Characters of one word a message quotes (ids are at most as long, paths rarely longer): a bad
value may be a million characters long."""
MAX_MESSAGE = 2000
"""Characters of one message's problem text."""
_LONG_WORD = re.compile(r"\S{%d,}" % (MAX_QUOTED + 1))


def brief(text: str, limit: int = MAX_MESSAGE, words: bool = True) -> str:
    """`text` with every overlong word cut to a prefix (unless not `words`) and the whole cut to
    `limit` characters: every message quotes at most a short prefix of a bad value."""
    if words:
        text = _LONG_WORD.sub(lambda m: m.group()[:MAX_QUOTED - 1] + "…", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Outcome(str, Enum):
    """How a run, a batch row or a check ended. The CLI maps each to its exit code (one table)."""

    DONE = "done"
    """What was asked is done."""
    INFEASIBLE = "infeasible"
    """The scenario is impossible as given; the findings say why, with the numbers."""
    MISMATCH = "mismatch"
    """A check did not hold: a replay differs from its record, or the register's chain is broken."""
    INVALID = "invalid"
    """Bad input (`InputError`): file, line, field and what was expected."""
    FAILED = "failed"
    """Anything else that stopped the work (`BalancerError`: a register that cannot be opened, a
    solver that fails, a full disk)."""

    @classmethod
    def of_error(cls, error: BaseException) -> Outcome:
        return cls.INVALID if isinstance(error, InputError) else cls.FAILED


class BalancerError(Exception):
    """Base class for every error balancer reports to a user (never a traceback)."""


class InputError(BalancerError):
    """Bad input: names the file, the line (where known), the field and what was expected."""

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.problem = brief(problem)
        self.file = brief(str(file), words=False) if file is not None else None
        self.line = line
        self.field = brief(field, MAX_QUOTED) if field is not None else None
        self.expected = brief(expected) if expected is not None else None
        super().__init__(self.message)

    @property
    def where(self) -> str:
        """`file:line`, `file` or '' — the prefix editors and terminals make clickable."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def message(self) -> str:
        parts = []
        if self.where:
            parts.append(f"{self.where}:")
        if self.field:
            parts.append(f"field '{self.field}':")
        parts.append(self.problem.rstrip(".") + ".")
        if self.expected:
            parts.append(f"Expected {self.expected.rstrip('.')}.")
        return " ".join(parts)


class InputErrors(InputError):
    """Several input errors found in one pass (`validate`): each on its own line, in the order found."""

    def __init__(self, errors: list[InputError], more: bool = False) -> None:
        self.errors = list(errors)
        self.more = more
        first = self.errors[0]
        super().__init__(first.problem, file=first.file, line=first.line, field=first.field,
                         expected=first.expected)

    @property
    def message(self) -> str:
        if len(self.errors) == 1 and not self.more:
            return self.errors[0].message
        count = f"{len(self.errors)}{' or more' if self.more else ''}"
        head = f"{count} problems{' (the first ones found)' if self.more else ''}:"
        return "\n".join([head, *(f"- {e.message}" for e in self.errors)])
