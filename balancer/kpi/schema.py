"""The options of `balancer kpi` as a pydantic model (`extra="forbid"`: a typo is an error; a
docstring under every field). The register and the staff table are checked by the column rules of
`balancer.scenario.tables`, not here: a register may hold a million cases."""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, model_validator

from balancer.errors import InputError
from balancer.scenario.schema import _CONFIG

__all__ = ["KpiOptions", "parse_period"]

Policy = Literal["warn", "refuse"]
MAX_MONTHS = 240
"""Longest period (20 years): every indicator is computed for every month and group."""


class KpiOptions(BaseModel):
    """What `balancer kpi` computes over, and what it does with register rows it cannot place."""

    model_config = _CONFIG

    start: date
    """First day of the first month of the period (always a 1st)."""
    end: date
    """Last day of the last month of the period (always a month's last day)."""
    unknown_types: Policy = "warn"
    """A case whose type the model does not hold: `warn` counts it everywhere but adds no hours to
    any weighted caseload (the warning says how many); `refuse` makes it an input error naming its line."""
    unknown_prosecutors: Policy = "warn"
    """A case held by a prosecutor not in the staff table: `warn` counts it in the prosecutor's own
    rows (with no FTE, so no caseload per FTE) and in every office, type and service figure;
    `refuse` makes it an input error naming its line."""

    @model_validator(mode="after")
    def _whole_months(self) -> KpiOptions:
        if self.start.day != 1 or self.end != _month_end(self.end) or self.end < self.start:
            raise ValueError("the period is whole months, its end not before its start")
        if len(self.months) > MAX_MONTHS:
            raise ValueError(f"the period is at most {MAX_MONTHS} months")
        return self

    @property
    def months(self) -> list[str]:
        """The period's months as YYYY-MM."""
        first, last = self.start.year * 12 + self.start.month - 1, self.end.year * 12 + self.end.month - 1
        return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_period(text: str) -> tuple[date, date]:
    """`2026` (the year), `2026-03` (a month) or `2025-07:2026-06` (months, both included) → the
    first and last day. InputError naming `--period` otherwise."""
    expected = "a year (2026), a month (2026-03) or months FROM:TO (2025-07:2026-06), the end not before the start"
    parts = text.strip().split(":")
    found = [_MONTH.match(p.strip()) for p in parts]
    if len(parts) > 2 or not all(found):
        raise InputError(f"--period {text!r} is not a year, a month or a range of months", field="--period",
                         expected=expected)
    ends = []
    for k, m in enumerate(found):
        year, month = int(m.group(1)), m.group(2)
        if month is not None and not 1 <= int(month) <= 12:
            raise InputError(f"--period {text!r}: {month} is not a month", field="--period", expected=expected)
        if year < 1900 or year > 2200:
            raise InputError(f"--period {text!r}: the year {year} is out of range", field="--period",
                             expected="years 1900 to 2200")
        first = date(year, int(month) if month else 1, 1)
        last = _month_end(date(year, int(month) if month else 12, 1))
        ends.append(first if k == 0 else last)
        if len(parts) == 1:
            ends.append(last)
    if ends[1] < ends[0]:
        raise InputError(f"--period {text!r} ends before it starts", field="--period", expected=expected)
    months = (ends[1].year - ends[0].year) * 12 + ends[1].month - ends[0].month + 1
    if months > MAX_MONTHS:
        raise InputError(f"--period {text!r} is {months:,} months long", field="--period",
                         expected=f"at most {MAX_MONTHS} months")
    return ends[0], ends[1]
