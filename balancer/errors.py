"""Errors a user can act on. The CLI turns them into exit codes; the library only raises them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path


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
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.expected = expected
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
