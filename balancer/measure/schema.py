"""The time study's YAML and an adjustments file as pydantic models (`extra="forbid"`: a typo is an
error, not ignored; a docstring under every field, which is also what the documentation shows).

The row lists (`records`, `staff`, `case_counts`, `case_list`) are checked by the column rules of
`balancer.scenario.tables`, not here: they may be tables of a million rows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from balancer.scenario import bounds
from balancer.scenario.schema import _CONFIG, Id, Period, Text, _at

__all__ = ["Adjustment", "Adjustments", "Bootstrap", "Study", "StudyType", "Thresholds", "YearValue"]

MINUTES = (0.0, 100_000.0)
"""Minutes one time record may hold (100,000: about 70 days around the clock, room for a weekly total)."""
FACTOR = (0.01, 100.0)
"""An adjustment's factor on a measured weight."""


class StudyType(BaseModel):
    """One case type of the study: what the written model's case type carries besides its weight."""

    model_config = _CONFIG

    id: Id
    """Identifier the time records and case counts name in their `type` column."""
    specialisation: Id | None = None
    """Specialisation a prosecutor must hold to take it (copied into the model); None: anyone."""
    min_grade: Id | None = None
    """Lowest grade allowed to take it; one of the study's `grades`. None: any grade."""
    description: Text | None = None
    """Free text for readers; the model's description of the type adds the measured figures."""


class YearValue(BaseModel):
    """How the year value (`hours_per_fte`, case hours of one full-time prosecutor a year) is derived:
    working days × hours per day × (1 − non-case share)."""

    model_config = _CONFIG

    working_days: float = Field(gt=0, le=366, strict=True)
    """Working days of one full-time prosecutor a year, after leave, holidays and sickness."""
    hours_per_day: float = Field(gt=0, le=24, strict=True)
    """Working hours in one of those days."""
    non_case_share: float | None = Field(None, ge=0, lt=1, strict=True)
    """Share of working time that goes to non-case work (administration, training, travel, …);
    None: measured from the time records as non-case minutes ÷ all minutes logged to known types
    and activities."""


class Bootstrap(BaseModel):
    """The confidence interval of each weight: prosecutors resampled with replacement (within their
    office when offices are known), weights recomputed, percentile interval."""

    model_config = _CONFIG

    replicates: int = Field(2000, ge=100, le=100_000, strict=True)
    """Bootstrap replicates."""
    confidence: float = Field(0.90, gt=0, lt=1, strict=True)
    """Coverage of the interval (0.90: from the 5th to the 95th percentile)."""
    seed: int = Field(0, ge=0, le=bounds.MAX_SEED, strict=True)
    """Seed of the resampling, so that the same study gives the same intervals."""


class Thresholds(BaseModel):
    """Where the evidence is called thin: each crossed threshold is a warning, the weight is kept."""

    model_config = _CONFIG

    min_cases: int = Field(30, ge=0, strict=True)
    """A type with fewer cases in the period than this is warned about."""
    min_prosecutors: int = Field(5, ge=0, strict=True)
    """A type fewer prosecutors logged time to is warned about."""
    max_relative_width: float = Field(0.5, gt=0, strict=True)
    """A type whose interval is wider than this share of its weight is warned about."""
    max_gap_days: int = Field(5, ge=1, strict=True)
    """A prosecutor with more consecutive working days (Monday to Friday) without a record is warned
    about (a gap in their logging, or time away not logged as a non-case activity)."""
    min_logged_share: float = Field(0.8, ge=0, le=2, strict=True)
    """A prosecutor who logged less than this share of their expected time (fte × working days in
    the period × hours per day) is warned about."""


class Study(BaseModel):
    """A time study: the file `balancer measure STUDY` reads. Row lists are inline or tables."""

    model_config = _CONFIG

    name: Id
    """Name of the study; the written model is named after it unless `model_name` is given."""
    model_name: Id | None = None
    """Name of the workload model it writes; None: the study's name."""
    description: Text | None = None
    """Free text; the written model's description starts with it."""
    sources: list[Text] = []
    """Citations the written model carries (who ran the study, its report)."""
    period: Period
    """The study period, both ends included: every record's date falls in it, and case counts are
    the cases of this period."""
    year: YearValue
    """The year value's derivation."""
    grades: list[Id] = []
    """Grades of prosecutors, lowest first, copied into the model; empty: none."""
    case_types: list[StudyType] = Field(min_length=1)
    """The case types measured, each with a unique id."""
    non_case: list[Id] = []
    """Activities that are not work on a case (administration, training, leave, …): records whose
    `type` is one of them count towards the non-case share, not towards any weight."""
    unknown_types: Literal["warn", "refuse"] = "warn"
    """A record whose `type` is neither a case type nor a non-case activity: `warn` (its time counts
    towards no weight, and the warnings list the types and hours) or `refuse` (exit 2 naming its
    file and line, with the nearest known name)."""
    records: Any = None
    """The time records: a table (path or {path, sheet, delimiter, decimal}) or an inline list with
    columns prosecutor, date, type, minutes (optional: case_id, activity, office)."""
    staff: Any = None
    """The prosecutors of the study: id, fte (optional: office; grade and specialisations, which
    measure does not use but `--compare`'s staffing scenario does). Every record's prosecutor is one."""
    case_counts: Any = None
    """Cases of each type in the period: type, cases (optional: prosecutor, when counted per
    prosecutor, which makes each weight a ratio of their sums). Either this or `case_list`."""
    case_list: Any = None
    """The period's cases, counted per type: id, type (optional: prosecutor, date within the period).
    Either this or `case_counts`."""
    bootstrap: Bootstrap = Field(default_factory=Bootstrap)
    """How the intervals are computed."""
    thresholds: Thresholds = Field(default_factory=Thresholds)
    """When evidence is called thin."""

    @field_validator("case_types")
    @classmethod
    def _unique_types(cls, types: list[StudyType], info: Any) -> list[StudyType]:
        seen: dict[str, int] = {}
        grades = info.data.get("grades") or []
        for i, t in enumerate(types):
            if t.id in seen:
                raise _at((i, "id"), "duplicate_id", "case type id '{id}' is listed twice",
                          "each case type id once", id=t.id)
            seen[t.id] = i
            if t.min_grade is not None and t.min_grade not in grades:
                raise _at((i, "min_grade"), "unknown_grade", "min_grade '{grade}' is not one of the study's grades",
                          "one of `grades`", grade=t.min_grade)
        return types

    @field_validator("non_case")
    @classmethod
    def _not_a_case_type(cls, names: list[str], info: Any) -> list[str]:
        types = {t.id for t in info.data.get("case_types") or []}
        for i, name in enumerate(names):
            if name in types:
                raise _at((i,), "non_case_is_type", "'{name}' is both a case type and a non-case activity",
                          "each name either a case type or a non-case activity", name=name)
            if name in names[:i]:
                raise _at((i,), "duplicate", "'{name}' is listed twice", "each activity once", name=name)
        return names

    @model_validator(mode="after")
    def _one_count(self) -> Study:
        if self.records is None:
            raise _at(("records",), "missing", "the study has no `records`", "a table of time records")
        if self.staff is None:
            raise _at(("staff",), "missing", "the study has no `staff`", "a list or table of id, fte")
        if (self.case_counts is None) == (self.case_list is None):
            raise _at(("case_counts",), "counts", "give exactly one of `case_counts` and `case_list`",
                      "case_counts (type, cases) or case_list (id, type)")
        return self


class Adjustment(BaseModel):
    """One agreed change to a measured weight (a Delphi round's outcome for one type)."""

    model_config = _CONFIG

    type: Id
    """The case type, one of the study's."""
    factor: float | None = Field(None, ge=FACTOR[0], le=FACTOR[1], strict=True)
    """Multiply the measured weight by this (1.1: ten per cent more). Exactly one of factor, hours."""
    hours: float | None = Field(None, ge=bounds.WEIGHT_HOURS[0], le=bounds.WEIGHT_HOURS[1], strict=True)
    """Replace the weight by this many hours (also for a type the study could not measure)."""
    rationale: Text = Field(min_length=1)
    """Why: what the time study missed (work outside the period, a new law, a type too rare)."""
    agreed_by: list[Id] = Field(min_length=1)
    """Who agreed to it (names or bodies)."""

    @model_validator(mode="after")
    def _factor_or_hours(self) -> Adjustment:
        if (self.factor is None) == (self.hours is None):
            raise _at(("factor",), "factor_or_hours", "give exactly one of `factor` and `hours`",
                      "factor: 1.1 (times the measured weight) or hours: 12 (the weight itself)")
        return self


class Adjustments(BaseModel):
    """An adjustments file: one round of agreed changes, applied on top of the measured weights."""

    model_config = _CONFIG

    round: Id
    """Name of the round ("Delphi round 1, 2026-05-04")."""
    description: Text | None = None
    """Free text: who met, how they decided."""
    adjustments: list[Adjustment] = Field(min_length=1)
    """The changes, at most one per type."""
    method: Literal["delphi", "panel", "other"] = "delphi"
    """How the changes were agreed."""

    @field_validator("adjustments")
    @classmethod
    def _once_per_type(cls, items: list[Adjustment]) -> list[Adjustment]:
        seen: set[str] = set()
        for i, a in enumerate(items):
            if a.type in seen:
                raise _at((i, "type"), "duplicate_type", "type '{type}' is adjusted twice in one round",
                          "at most one adjustment per type and round", type=a.type)
            seen.add(a.type)
        return items
