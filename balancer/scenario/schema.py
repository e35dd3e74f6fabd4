"""The scenario's parts as pydantic models (workload model, period, policy, absences, the file's
top level) and the loaded `Scenario`.

The small nested parts are pydantic models; every field has a docstring, which is also what the
documentation shows. Unknown keys are errors (`extra="forbid"`), so a typo is reported, not ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from balancer.scenario import bounds
from balancer.scenario.canonical import canonical_digest
from balancer.scenario.messages import _A_DATE, _listing

__all__ = ["CaseType", "Moves", "Period", "Policy", "Scenario", "TableRef", "WorkloadModel"]


# Numbers are strict so that YAML's `yes`/`true` or a quoted "12" is reported, not read as 1 or 12;
# inf and nan are never meaningful hours or probabilities.
_CONFIG = ConfigDict(extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)


def _at(path: tuple, kind: str, message: str, expected: str, **ctx: Any) -> PydanticCustomError:
    """A validation error that says what was expected and may point below its field (`(3, "id")`)."""
    return PydanticCustomError(kind, message, {**ctx, "at": path, "expected": expected})


def _no_number(value: Any) -> Any:
    # pydantic would read a number as a Unix timestamp; in a scenario it is always a typo.
    if isinstance(value, (int, float)):
        raise _at((), "date_type", "{value} is not a date", _A_DATE, value=value)
    return value


Day = Annotated[date, BeforeValidator(_no_number)]
Id = Annotated[str, Field(min_length=1, max_length=bounds.MAX_ID_CHARS)]
"""Ids and names: one short word or phrase."""
Month = Annotated[int, Field(ge=1, le=12)]
SeasonFactor = Annotated[float, Field(ge=bounds.SEASON_FACTOR[0], le=bounds.SEASON_FACTOR[1])]
Text = Annotated[str, Field(max_length=bounds.MAX_TEXT_CHARS)]
"""Free text for readers."""


def _span(first: str, last: str, kind: str, message: str, expected: str) -> Any:
    """One rule for every span of days (a period, an absence): the validator of its field `last`,
    which does not end before the day in `first` (when that one is valid)."""

    def not_before(cls: Any, end: date, info: Any) -> date:
        start = info.data.get(first)
        if start is not None and end < start:
            raise _at((), kind, message, expected, first=str(start), last=str(end))
        return end

    return field_validator(last)(classmethod(not_before))


# ---------------------------------------------------------------------------------------------
# Public models
# ---------------------------------------------------------------------------------------------


class CaseType(BaseModel):
    """One kind of case and the prosecutor hours one case of it costs."""

    model_config = _CONFIG

    id: Id
    """Identifier that cases name in their `type` field."""
    weight_hours: float = Field(ge=bounds.WEIGHT_HOURS[0], le=bounds.WEIGHT_HOURS[1], strict=True)
    """Average hours of prosecutor work one case of this type takes (0.001 to 100,000)."""
    specialisation: Id | None = None
    """Specialisation a prosecutor must hold to take it; None: anyone may take it."""
    min_grade: Id | None = None
    """Lowest grade allowed to take it; one of the model's `grades`. None: any grade."""
    description: Text | None = None
    """Free text for readers of the model."""


class WorkloadModel(BaseModel):
    """A workload model: the case-type catalogue with weights, maintained by the reform team."""

    model_config = _CONFIG

    name: Id
    """Name of the model, for reports."""
    hours_per_fte: float = Field(1500, ge=bounds.HOURS_PER_FTE[0], le=bounds.HOURS_PER_FTE[1], strict=True)
    """Case-related hours one full-time prosecutor works per year (1 to 8,784)."""
    grades: list[Id] = []
    """Grades of prosecutors, ordered lowest first; empty: the model does not use grades."""
    case_types: list[CaseType] = Field(min_length=1)
    """The case types, each with a unique id."""
    sources: list[Text] = []
    """Citations for the figures (weights, hours per FTE)."""
    description: Text | None = None
    """Free text for readers of the model."""

    @field_validator("grades")
    @classmethod
    def _grades_unique(cls, grades: list[str]) -> list[str]:
        for i, grade in enumerate(grades):
            if grade in grades[:i]:
                raise _at((i,), "duplicate_grade", "grade '{grade}' is listed twice", "each grade once",
                          grade=grade)
        return grades

    @field_validator("case_types")
    @classmethod
    def _case_types_consistent(cls, case_types: list[CaseType], info: Any) -> list[CaseType]:
        grades = info.data.get("grades")  # absent when `grades` itself failed: nothing to check against
        first: dict[str, int] = {}
        for i, ct in enumerate(case_types):
            if ct.id in first:
                raise _at((i, "id"), "duplicate_id",
                          "case type id '{id}' is used twice (entries {a} and {b})", "each case type id once",
                          id=ct.id, a=first[ct.id] + 1, b=i + 1)
            first[ct.id] = i
            if ct.min_grade is not None and grades is not None and ct.min_grade not in grades:
                expected = (f"one of the model's grades: {_listing(grades)}" if grades
                            else "no min_grade, or a `grades:` list in the model")
                raise _at((i, "min_grade"), "unknown_grade",
                          "min_grade '{grade}' of case type '{id}' is not a grade of the model", expected,
                          grade=ct.min_grade, id=ct.id)
        return case_types


class Period(BaseModel):
    """The period the allocation covers, both ends included."""

    model_config = _CONFIG

    start: Day
    """First day of the period."""
    end: Day
    """Last day of the period (not before `start`)."""

    _not_before_start = _span("start", "end", "period_order", "end {last} is before start {first}",
                              "an end on or after the start")

    @field_validator("end")
    @classmethod
    def _not_centuries(cls, end: date, info: Any) -> date:
        # Capacity is prorated over the period: over millennia a day's cases are a millionth of
        # anyone's capacity, below what the solvers resolve. Such a period is a typo.
        start = info.data.get("start")
        if start is not None and (end - start).days + 1 > bounds.MAX_PERIOD_DAYS:
            raise _at((), "period_length", "the period from {first} to {last} is longer than {most} days",
                      f"a period of at most {bounds.MAX_PERIOD_DAYS:,} days (100 years)",
                      first=str(start), last=str(end), most=f"{bounds.MAX_PERIOD_DAYS:,}")
        return end

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included."""
        return (self.end - self.start).days + 1


class Moves(BaseModel):
    """How freely cases that already have a holder (`assigned_to`) may move when rebalancing.

    Cases whose holder is no longer eligible for them (no time in the period, a conflict, a lost
    specialisation) always move, and count against none of these limits."""

    model_config = _CONFIG

    max: int | None = Field(None, ge=0, le=bounds.MAX_MOVES, strict=True)
    """Most cases that may move for balance; None: no limit."""
    max_hours: float | None = Field(None, ge=bounds.MOVE_HOURS[0], le=bounds.MOVE_HOURS[1], strict=True)
    """Most hours of cases that may move for balance; None: no limit."""
    price: float = Field(0.0, ge=bounds.MOVE_PRICE[0], le=bounds.MOVE_PRICE[1], strict=True)
    """Price of moving one hour, in utilisation points: an hour moves from p to q only while it
    closes a gap u_p − u_q larger than this (0.1: ten points). 0: any gain in balance is worth it."""


class Forecast(BaseModel):
    """Daily intake: the work expected later in the period, balanced with each day's new cases so
    that prosecutors who alone can take some of it are kept for it (`balancer.intake`)."""

    model_config = _CONFIG

    source: Literal["caseload"]
    """`caseload`: the scenario's `caseload` (expected filings of each type in the period), less
    what has arrived so far — or, where more, the pace of arrivals so far continued to the
    period's end (working days); expected evenly over the working days left (or as `seasons`
    says), each day's part to those present that day (`unavailable`)."""
    seasons: dict[Id, dict[Month, SeasonFactor]] | None = None
    """Case type → month (1–12) → how many times its usual filings arrive in that month (1 where
    not given): `{corruption: {3: 4.5, 4: 4.5, 5: 4.5}}` for a spring wave. The work to come is
    then expected by month, and each day is balanced at every month's end as well as the
    period's, so specialists are kept for a wave before it comes. None: no seasons."""


class Policy(BaseModel):
    """How evenly and how randomly cases are allocated."""

    model_config = _CONFIG

    tolerance: float = Field(0.05, ge=bounds.TOLERANCE[0], le=bounds.TOLERANCE[1], strict=True)
    """Utilisation points the draw may deviate from the leximin profile (0 to 10)."""
    max_probability: float = Field(0.5, gt=0, le=1, strict=True)
    """Cap on P(case → one prosecutor) wherever eligibility allows (0 < q ≤ 1)."""
    seed: int | None = Field(None, ge=0, le=bounds.MAX_SEED, strict=True)
    """Seed of the draw; None: fresh randomness from the OS (and recorded)."""
    capacity: Literal["soft", "hard"] = "soft"
    """`hard`: nobody above 100 % utilisation (infeasible scenarios get a diagnosis)."""
    moves: Moves = Field(default_factory=Moves)
    """Rebalancing: which held cases may move (default: any, where it buys balance)."""
    forecast: Forecast | None = None
    """Daily intake: balance each day against the work expected later in the period too (None:
    against current loads only)."""

    def recorded(self) -> dict:
        """The policy as summaries, digests and register records hold it (JSON), without `forecast`
        when it is unset: it came later, and what was recorded before it must still match."""
        data = self.model_dump(mode="json")
        if data.get("forecast") is None:
            data.pop("forecast", None)
        elif data["forecast"].get("seasons") is None:  # likewise for seasons
            data["forecast"].pop("seasons", None)
        return data


class _Absence(BaseModel):
    """One span of a staff member's `unavailable` list."""

    model_config = _CONFIG

    from_: Day = Field(alias="from")
    """First day away."""
    to: Day
    """Last day away (not before `from`)."""

    _not_before_from = _span("from_", "to", "span_order", "to {last} is before from {first}",
                             "a `to` on or after `from`")


class TableRef(BaseModel):
    """A table file and how to read it: `cases: {path: office.xlsx, sheet: Cases}`. A plain path
    (`cases: backlog.csv`) is a reference with nothing but its path."""

    model_config = _CONFIG

    path: str = Field(min_length=1)
    """The .csv, .xlsx or .parquet file, relative to the scenario file's folder."""
    sheet: Id | None = None
    """.xlsx only: the sheet that holds the table. Needed when several sheets hold values."""
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    """.csv only: what separates cells; None: the one the header line holds most of."""
    decimal: Literal[".", ","] | None = None
    """.csv only: the decimal mark of numbers; None: ',' when the delimiter is ';' (as Excel
    writes CSV where the comma is the decimal mark), else '.'."""


class _Header(BaseModel):
    """The scenario file's top level; the row lists are checked by the row rules, not here."""

    model_config = _CONFIG

    name: Id
    """Name of the scenario."""
    description: Text | None = None
    """Free text."""
    model: str | None = None
    """Path to a workload model YAML, relative to the scenario file."""
    case_types: list[Any] | None = None
    """Inline case types (instead of `model`)."""
    hours_per_fte: Any = None
    """Inline model only: case-related hours of one full-time prosecutor per year."""
    grades: Any = None
    """Inline model only: grades, lowest first."""
    period: Period | None = None
    """The period the allocation covers."""
    staff: Any = None
    """A list of staff rows, or a .csv/.xlsx/.parquet table: its path or a `TableRef`."""
    cases: Any = None
    """A list of case rows, or a table (a path or a `TableRef`)."""
    caseload: Any = None
    """For staffing: expected filings per case type, a list of rows or a table."""
    policy: Policy | None = None
    """Allocation policy."""
    overrides: dict[str, dict[str, Any]] | None = None
    """Named variants (`load_scenario(variant=)`, `balancer batch --variants`): each maps dotted keys
    (`policy.tolerance`, `model.hours_per_fte`, `model.case_types.<id>.weight_hours`, …) to values."""
    scenarios: dict[str, list[str]] | None = None
    """Named combinations of `overrides`, applied in the order listed (the later winning)."""

    @field_validator("scenarios")
    @classmethod
    def _known_overrides(cls, scenarios: dict[str, list[str]] | None, info: Any) -> Any:
        known = set(info.data.get("overrides") or {})
        for name, parts in (scenarios or {}).items():
            for i, part in enumerate(parts):
                if part not in known:
                    raise _at((name, i), "unknown_override", "{part} is not one of the `overrides`",
                              f"one of: {', '.join(sorted(known)) or '(no overrides are defined)'}",
                              part=part)
        return scenarios


# ---------------------------------------------------------------------------------------------
# The loaded scenario
# ---------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """A validated scenario: everything later steps need, nothing they must check again."""

    name: str
    """Name of the scenario."""
    description: str | None
    """Free text from the scenario file."""
    path: Path
    """The scenario file, resolved."""
    model: WorkloadModel
    """The workload model (from `model:` or inline `case_types:`)."""
    period: Period | None
    """The period, if the scenario gives one."""
    policy: Policy
    """The allocation policy (defaults when the scenario gives none)."""
    staff: pd.DataFrame
    """id, fte, capacity_hours, specialisations, grade, current_load_hours, unavailable, office."""
    cases: pd.DataFrame
    """id, type, weight_hours, group, excluded, assigned_to (no rows when only `caseload` is given)."""
    inputs: dict[str, str]
    """Every file read, relative to the scenario's folder (posix) → SHA-256 of its bytes."""
    caseload: pd.DataFrame | None = None
    """For staffing: type, filings, office; None when the scenario has no `caseload`."""
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The file's named `overrides:` (dotted key → value); applied only when a variant names them."""
    variants: dict[str, list[str]] = field(default_factory=dict)
    """The file's `scenarios:`: named combinations of `overrides`."""
    variant: str | None = None
    """The named variant (from `scenarios:` or `overrides:`) applied when loading; None: none."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Dotted settings applied to the file as written, each key's effective value as validated
    (JSON-able): the variant's overrides first, then explicit settings. Empty: none."""

    @cached_property
    def canonical_sha256(self) -> str:
        """SHA-256 of what a draw of this scenario depends on, whatever the files' names, bytes and row
        order (`balancer.scenario.canonical`): the key the register recognises a re-draw by. Computed
        on first use and kept: change a scenario with `dataclasses.replace` or `apply_settings`
        (a new one), never in place."""
        return canonical_digest(self)

    def applied(self) -> dict[str, Any]:
        """What was applied to the file as written, for summary.json: `{"variant": …, "settings": {…}}`."""
        return {"variant": self.variant, "settings": dict(self.settings)}

