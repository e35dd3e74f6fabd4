"""Load step: a scenario YAML, its workload model and its tables → one validated `Scenario`.

Every mistake in the input becomes an `InputError` naming the file, the line, the field and what
was expected; no raw exception (YAML, pydantic, pandas, OS) escapes for bad input.

How it is built, and why:
- The small nested parts (workload model, period, policy) are pydantic models. YAML is parsed to a
  node tree first, so every key and list item has a line; pydantic's error locations are looked
  up in that map.
- Staff, cases and caseload rows may be long (1M cases), so each row rule is one vectorised check
  over a DataFrame. Inline YAML lists become a DataFrame too and go through the same checks, so
  each rule exists exactly once; only rows with errors or non-empty list cells are looped over.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, get_args

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from balancer.errors import InputError

__all__ = ["CaseType", "Period", "Policy", "Scenario", "WorkloadModel", "load_model", "load_scenario"]

# Numbers are strict so that YAML's `yes`/`true` or a quoted "12" is reported, not read as 1 or 12;
# inf and nan are never meaningful hours or probabilities.
_CONFIG = ConfigDict(extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)
_A_DATE = "a date like 2025-01-31"


def _at(path: tuple, kind: str, message: str, expected: str, **ctx: Any) -> PydanticCustomError:
    """A validation error that says what was expected and may point below its field (`(3, "id")`)."""
    return PydanticCustomError(kind, message, {**ctx, "at": path, "expected": expected})


def _no_number(value: Any) -> Any:
    # pydantic would read a number as a Unix timestamp; in a scenario it is always a typo.
    if isinstance(value, (int, float)):
        raise _at((), "date_type", "{value} is not a date", _A_DATE, value=value)
    return value


Day = Annotated[date, BeforeValidator(_no_number)]


def _span_end(first: date | None, last: date, kind: str, message: str, expected: str) -> date:
    """One rule for every span of days (a period, an absence): it does not end before it starts."""
    if first is not None and last < first:
        raise _at((), kind, message, expected, first=str(first), last=str(last))
    return last


# ---------------------------------------------------------------------------------------------
# Public models
# ---------------------------------------------------------------------------------------------


class CaseType(BaseModel):
    """One kind of case and the prosecutor hours one case of it costs."""

    model_config = _CONFIG

    id: str = Field(min_length=1)
    """Identifier that cases name in their `type` field."""
    weight_hours: float = Field(gt=0, strict=True)
    """Average hours of prosecutor work one case of this type takes (> 0)."""
    specialisation: str | None = None
    """Specialisation a prosecutor must hold to take it; None: anyone may take it."""
    min_grade: str | None = None
    """Lowest grade allowed to take it; one of the model's `grades`. None: any grade."""
    description: str | None = None
    """Free text for readers of the model."""


class WorkloadModel(BaseModel):
    """A workload model: the case-type catalogue with weights, maintained by the reform team."""

    model_config = _CONFIG

    name: str = Field(min_length=1)
    """Name of the model, for reports."""
    hours_per_fte: float = Field(1500, gt=0, strict=True)
    """Case-related hours one full-time prosecutor works per year."""
    grades: list[str] = []
    """Grades of prosecutors, ordered lowest first; empty: the model does not use grades."""
    case_types: list[CaseType] = Field(min_length=1)
    """The case types, each with a unique id."""
    sources: list[str] = []
    """Citations for the figures (weights, hours per FTE)."""
    description: str | None = None
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

    @field_validator("end")
    @classmethod
    def _not_before_start(cls, end: date, info: Any) -> date:
        return _span_end(info.data.get("start"), end, "period_order", "end {last} is before start {first}",
                         "an end on or after the start")

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included."""
        return (self.end - self.start).days + 1


class Moves(BaseModel):
    """How freely cases that already have a holder (`assigned_to`) may move when rebalancing.

    Cases whose holder is no longer eligible for them (no time in the period, a conflict, a lost
    specialisation) always move, and count against none of these limits."""

    model_config = _CONFIG

    max: int | None = Field(None, ge=0, strict=True)
    """Most cases that may move for balance; None: no limit."""
    max_hours: float | None = Field(None, ge=0, strict=True)
    """Most hours of cases that may move for balance; None: no limit."""
    price: float = Field(0.0, ge=0, strict=True)
    """Price of moving one hour, in utilisation points: an hour moves from p to q only while it
    closes a gap u_p − u_q larger than this (0.1: ten points). 0: any gain in balance is worth it."""


class Policy(BaseModel):
    """How evenly and how randomly cases are allocated."""

    model_config = _CONFIG

    tolerance: float = Field(0.05, ge=0, strict=True)
    """Utilisation points the draw may deviate from the leximin profile (≥ 0)."""
    max_probability: float = Field(0.5, gt=0, le=1, strict=True)
    """Cap on P(case → one prosecutor) wherever eligibility allows (0 < q ≤ 1)."""
    seed: int | None = Field(None, ge=0, strict=True)
    """Seed of the draw; None: fresh randomness from the OS (and recorded)."""
    capacity: Literal["soft", "hard"] = "soft"
    """`hard`: nobody above 100 % utilisation (infeasible scenarios get a diagnosis)."""
    moves: Moves = Field(default_factory=Moves)
    """Rebalancing: which held cases may move (default: any, where it buys balance)."""


class _Absence(BaseModel):
    """One span of a staff member's `unavailable` list."""

    model_config = _CONFIG

    from_: Day = Field(alias="from")
    """First day away."""
    to: Day
    """Last day away (not before `from`)."""

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: date, info: Any) -> date:
        return _span_end(info.data.get("from_"), to, "span_order", "to {last} is before from {first}",
                         "a `to` on or after `from`")


class _Header(BaseModel):
    """The scenario file's top level; the row lists are checked by the row rules, not here."""

    model_config = _CONFIG

    name: str = Field(min_length=1)
    """Name of the scenario."""
    description: str | None = None
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
    """A list of staff rows, or a path to a .csv/.xlsx/.parquet table."""
    cases: Any = None
    """A list of case rows, or a path to a table."""
    caseload: Any = None
    """For staffing: expected filings per case type, a list of rows or a path to a table."""
    policy: Policy | None = None
    """Allocation policy."""
    overrides: dict[str, dict[str, Any]] | None = None
    """Named variants for `balancer batch`: each maps dotted keys (`policy.tolerance`,
    `model.hours_per_fte`, `model.case_types.<id>.weight_hours`) to values."""
    scenarios: dict[str, list[str]] | None = None
    """Named combinations of `overrides` for `balancer batch --variants`, applied in the order listed."""

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
    """Named variants (dotted key → value) for `balancer batch`; a plain run ignores them."""
    variants: dict[str, list[str]] = field(default_factory=dict)
    """The file's `scenarios:`: named combinations of `overrides`."""


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# YAML with line numbers
# ---------------------------------------------------------------------------------------------

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEY_ON_LINE = re.compile(r"""^\s*(?:-\s+)?["']?([^\s:"'#{}\[\],]+)["']?\s*:""")


class _Lines(dict):
    """1-based line of each path in a YAML document: a key's line, or a list item's first line."""

    def at(self, path: tuple) -> int:
        """Line of `path`, or of its nearest ancestor that has one (a missing key sits in its parent)."""
        while path and path not in self:
            path = path[:-1]
        return self.get(path, 1)


@dataclass
class _Doc:
    """A parsed YAML file: its data, where each key sits, and how messages name it."""

    data: Any
    lines: _Lines
    path: Path
    shown: str
    digest: str


def _read_yaml(path: Path, shown: str, missing: InputError) -> _Doc:
    raw = _read_bytes(path, missing)
    lines = _Lines()
    try:
        node = yaml.compose(raw, Loader=_YAML_LOADER)
        constructor = yaml.constructor.SafeConstructor()
        data = None if node is None else _build(node, (), lines, constructor, shown)
    except yaml.YAMLError as exc:
        raise _yaml_syntax_error(exc, shown, raw.decode("utf-8", errors="replace")) from None
    except RecursionError:
        raise _error("YAML aliases refer to themselves", file=shown, expected="no cycles") from None
    return _Doc(data, lines, path, shown, hashlib.sha256(raw).hexdigest())


def _build(node: yaml.Node, path: tuple, lines: _Lines, constructor: Any, shown: str) -> Any:
    """Python value of `node`, recording the line of every key and list item in `lines`."""
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)  # `<<: *anchor` merge keys, as yaml.safe_load does
        out: dict = {}
        for key_node, value_node in node.value:
            key = _build(key_node, path, lines, constructor, shown)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float, date)):
                raise _error(f"{_show(key)} cannot be a key", file=shown, line=line, expected="a word as key")
            if key in out:
                first = lines[path + (key,)]
                raise _error(f"key {key!r} appears twice in one mapping (first on line {first})", file=shown,
                             line=line, field=str(key), expected="each key once per mapping")
            lines[path + (key,)] = line
            out[key] = _build(value_node, path + (key,), lines, constructor, shown)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            items.append(_build(item, path + (i,), lines, constructor, shown))
        return items
    try:
        return constructor.construct_object(node)
    except ValueError as exc:  # e.g. 2025-02-30 has the form of a date but is none
        raise _error(f"{node.value!r} is not valid ({exc})", file=shown, line=node.start_mark.line + 1,
                     field=".".join(p for p in path if isinstance(p, str)) or None,
                     expected=f"a real calendar date, {_A_DATE}") from None


def _yaml_syntax_error(exc: yaml.YAMLError, shown: str, text: str) -> InputError:
    source = text.splitlines()
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    # An unclosed quote or bracket is reported at the end of the file; where it opened helps more.
    if context is not None and (mark is None or mark.line >= len(source) or not source[mark.line].strip()):
        mark = context
    line = mark.line + 1 if mark is not None else None
    key = _KEY_ON_LINE.match(source[line - 1]) if line and line <= len(source) else None
    what = ": ".join(filter(None, [getattr(exc, "context", None), getattr(exc, "problem", None)])) or exc
    return _error(f"this is not valid YAML: {what}", file=shown, line=line,
                  field=key.group(1) if key else None,
                  expected="'key: value' lines indented consistently with spaces, and '- ' before list items "
                           "(quote values that contain ': ' or ' #')")


# ---------------------------------------------------------------------------------------------
# pydantic errors → InputError
# ---------------------------------------------------------------------------------------------

_A_MAPPING = "a mapping ('key: value' lines or {key: value})"
_EXPECTED = {
    "string_type": "text (put values that YAML reads as numbers, dates or yes/no in quotes)",
    "list_type": "a list ('- item' lines or [a, b])",
    "dict_type": _A_MAPPING,
    "model_type": _A_MAPPING,
    "model_attributes_type": _A_MAPPING,
    "date_type": _A_DATE,
    "date_parsing": _A_DATE,
    "date_from_datetime_parsing": _A_DATE,
    "date_from_datetime_inexact": f"{_A_DATE} (without a time)",
}
_NUMBER_ERRORS = {"float_type", "float_parsing", "finite_number", "greater_than", "greater_than_equal",
                  "less_than", "less_than_equal", "int_type", "int_parsing", "int_from_float"}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like `list[CaseType] | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_inner_model, get_args(annotation)) if m is not None), None)


def _field_at(cls: type[BaseModel], loc: tuple) -> tuple[Any, type[BaseModel] | None]:
    """(FieldInfo of the last field named in `loc`, the model holding the fields below it)."""
    info, model = None, cls
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {(f.alias or name): f for name, f in model.model_fields.items()} if model else {}
        if part not in fields:
            return None, None
        info = fields[part]
        model = _inner_model(info.annotation)
    return info, model


def _bounds(info: Any) -> str:
    parts = []
    for meta in getattr(info, "metadata", []):
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                parts.append(f"{sign} {bound:g}")
    return (" " + " and ".join(parts)) if parts else ""


def _describe(err: dict, cls: type[BaseModel], loc: tuple) -> tuple[str, str | None]:
    """(problem, expected) in words a scenario author understands."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        _, model = _field_at(cls, loc[:-1])
        allowed = [f.alias or name for name, f in (model or cls).model_fields.items()]
        problem = f"unknown field {loc[-1]!r}{_suggest(loc[-1], allowed)}"
        return problem, f"only the fields {_listing(allowed)}"
    if kind == "missing":
        return f"the required field {loc[-1]!r} is missing", f"a value for {loc[-1]!r}"
    if "expected" in ctx and kind != "literal_error":  # our own errors (`_at`) say it all
        return err["msg"], ctx["expected"]
    problem = err["msg"]
    if "input" in err and not isinstance(err["input"], (dict, list)):
        problem += f" (got {_show(err['input'])})"
    if kind in _NUMBER_ERRORS:
        noun = "a whole number" if kind.startswith("int") else "a number"
        return problem, noun + _bounds(_field_at(cls, loc)[0])
    if kind == "literal_error":
        return problem, f"one of {ctx.get('expected')}"
    if kind == "too_short":
        return problem, "at least one entry" if isinstance(err.get("input"), list) else "non-empty text"
    return problem, _EXPECTED.get(kind)


def _translate(exc: ValidationError, cls: type[BaseModel], shown: str, lines: _Lines,
               prefix: tuple = ()) -> InputError:
    located = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("at", ()))
        located.append((lines.at(prefix + loc), err["type"] == "missing", loc, err))
    # The error nearest the top of the file: that is where people start fixing. On one line an
    # unknown key beats the "missing" it causes (`form:` written for `from:`).
    line, _, loc, err = min(located, key=lambda item: item[:2])
    problem, expected = _describe(err, cls, loc)
    field = ".".join(str(p) for p in prefix + loc if isinstance(p, str)) or None
    return _error(problem, file=shown, line=line, field=field, expected=expected)


def _validate(cls: type[BaseModel], data: Any, doc: _Doc) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, cls, doc.shown, doc.lines) from None


# ---------------------------------------------------------------------------------------------
# Rows: a YAML list or a table file, as a DataFrame of raw values
# ---------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Rows of one kind (staff, cases, caseload) as raw values, and where each row came from."""

    kind: str  # the scenario key: staff | cases | caseload
    noun: str  # one row in messages: "staff member", "case", …
    frame: pd.DataFrame  # one column per field given; NA where a value is missing; RangeIndex
    file: str
    row_lines: np.ndarray  # line of each row
    header_line: int | None = None  # tables: line of the column names (none in Parquet)
    yaml: tuple[_Lines, tuple] | None = None  # YAML lists: the document's line map and the list's path
    ids: pd.Series | None = None  # set once the ids are valid, to name rows in messages

    @property
    def is_table(self) -> bool:
        return self.yaml is None

    def line(self, i: int, field: str | None = None, *below: Any) -> int:
        if self.yaml is not None and field is not None:
            lines, prefix = self.yaml
            return lines.at(prefix + (i, field) + below)
        return int(self.row_lines[i])

    def col(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name]
        # All-NaN float: every rule takes its fast path on it (no per-value type checks).
        return pd.Series(np.full(len(self.frame), np.nan))

    def label(self, i: int) -> str:
        return f"{self.noun} {self.ids.iat[i]!r}" if self.ids is not None else f"entry {i + 1} of {self.kind}"

    def error(self, problem: str, i: int, field: str, *below: Any, expected: str) -> InputError:
        line = self.line(i, field, *below)
        return _error(problem, file=self.file, line=line, field=field, expected=expected)


def _fail(rows: _Rows, bad: Any, field: str, problem: str | Callable[[int], str], expected: str) -> None:
    """Raise for the first row where `bad` holds; say on which lines the same problem recurs."""
    where = np.flatnonzero(np.asarray(bad, dtype=bool))
    if where.size == 0:
        return
    i = int(where[0])
    text = problem(i) if callable(problem) else problem
    if where.size > 1:
        more = ", ".join(str(rows.line(int(k), field)) for k in where[1:4])
        text += f" (also on line {more}{', …' if where.size > 4 else ''}: {where.size} rows in all)"
    raise rows.error(text, i, field, expected=expected)


def _yaml_rows(kind: str, noun: str, items: list, doc: _Doc) -> _Rows:
    prefix = (kind,)
    records = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _error(f"entry {i + 1} of {kind} is {_show(item)}, not a mapping", file=doc.shown,
                         line=doc.lines.at(prefix + (i,)), field=kind,
                         expected="a mapping like {id: P01, fte: 1}")
        records.append({str(k): _clean(v) for k, v in item.items()})
    # dtype=object keeps YAML's own types, so a number where text belongs can still be reported.
    frame = pd.DataFrame(records, dtype=object)
    row_lines = np.array([doc.lines.at(prefix + (i,)) for i in range(len(records))], dtype=np.int64)
    return _Rows(kind, noun, frame, doc.shown, row_lines, yaml=(doc.lines, prefix))


def _clean(value: Any) -> Any:
    """Strip text, as tables are stripped; empty text is a missing value."""
    return (value.strip() or None) if isinstance(value, str) else value


# Each reader returns (frame, line of data row 0, line of the header).


def _read_csv(data: bytes, shown: str) -> tuple[pd.DataFrame, int, int | None]:
    try:
        # Blank lines are kept (dropped after numbering) so that data row i sits on line i + 2.
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, skip_blank_lines=False,
                            encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise _error("the file is empty", file=shown, line=1,
                     expected="a header line of column names, then one row per line") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise _error(f"cannot read the CSV: {exc}", file=shown, line=int(found.group(1)) if found else None,
                     expected="as many comma-separated cells on every line as in the header "
                              "(quote cells that contain commas)") from None
    except UnicodeDecodeError:
        raise _error("the file is not UTF-8 text", file=shown, expected="a CSV file saved as UTF-8") from None
    return frame, 2, 1


def _read_xlsx(data: bytes, shown: str) -> tuple[pd.DataFrame, int, int | None]:
    try:
        frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a damaged or misnamed file
        raise _error(f"cannot read the workbook: {exc}", file=shown,
                     expected="an .xlsx workbook whose first sheet has the column names in row 1") from None
    return frame, 2, 1


def _read_parquet(data: bytes, shown: str) -> tuple[pd.DataFrame, int, int | None]:
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, … for a damaged file
        raise _error(f"cannot read the Parquet file: {exc}", file=shown,
                     expected="a Parquet file with one column per field") from None
    return frame.reset_index(drop=True), 1, None


_READERS = {".csv": _read_csv, ".xlsx": _read_xlsx, ".parquet": _read_parquet}


def _table_rows(kind: str, noun: str, ref: str, doc: _Doc, inputs: dict[str, str]) -> _Rows:
    path = doc.path.parent / ref
    where = dict(file=doc.shown, line=doc.lines.at((kind,)), field=kind)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise _error(f"{ref!r} is not a kind of table this tool reads", **where,
                     expected="a path to a .csv, .xlsx or .parquet file, or an inline list")
    missing = _error(f"the file {ref!r} does not exist (looked for {_display(path)})", **where,
                     expected="a path relative to the scenario file's folder")
    data = _read_bytes(path, missing)
    inputs[_relative(path, doc.path.resolve().parent)] = hashlib.sha256(data).hexdigest()
    frame, first_line, header_line = reader(data, _display(path))
    frame, row_lines = _normalise(frame, first_line)
    return _Rows(kind, noun, frame, _display(path), row_lines, header_line)


def _normalise(frame: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Strip text cells, make empty cells NA, drop blank rows; returns the frame and each row's line."""
    frame = frame.rename(columns=lambda c: str(c).strip())
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]):
            column = frame[name].astype("str").str.strip()
            frame[name] = column.mask(column == "")
    # A trailing comma in the header makes an unnamed, empty column: harmless, so ignore it.
    unnamed = [c for c in frame.columns if c.startswith("Unnamed: ") and frame[c].isna().all()]
    frame = frame.drop(columns=unnamed)
    row_lines = np.arange(len(frame), dtype=np.int64) + first_line
    keep = frame.notna().any(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), bool)
    return frame[keep].reset_index(drop=True), row_lines[keep]


def _rows(kind: str, noun: str, doc: _Doc, inputs: dict[str, str]) -> _Rows | None:
    """The rows under `kind`: an inline list or a table file; None when the key is absent."""
    value = doc.data.get(kind)
    if value is None:
        return None
    where = dict(file=doc.shown, line=doc.lines.at((kind,)), field=kind)
    if isinstance(value, str):
        rows = _table_rows(kind, noun, value, doc, inputs)
    elif isinstance(value, list):
        rows = _yaml_rows(kind, noun, value, doc) if value else None
    else:
        raise _error(f"{kind} is {_show(value)}", **where,
                     expected="a list of rows, or a path to a .csv, .xlsx or .parquet file")
    if rows is None or len(rows.frame) == 0:
        what = f"the table {value} has no rows" if isinstance(value, str) else f"the {kind} list is empty"
        raise _error(what, **where, expected=f"at least one {noun}")
    return rows


# ---------------------------------------------------------------------------------------------
# Column rules: each is one vectorised check, shared by YAML lists and tables
# ---------------------------------------------------------------------------------------------


def _check_columns(rows: _Rows, allowed: tuple[str, ...], required: tuple[str, ...],
                   yaml_only: tuple[str, ...] = ()) -> None:
    permitted = [c for c in allowed if not (rows.is_table and c in yaml_only)]
    noun = "column" if rows.is_table else "field"
    for name in rows.frame.columns:
        if name in permitted:
            continue
        base = re.sub(r"\.\d+$", "", name)  # pandas renames a repeated column `fte` to `fte.1`
        if rows.is_table and base != name and base in rows.frame.columns:
            problem = f"the column {base!r} appears twice"
        elif rows.is_table and name in yaml_only:
            problem = f"{name!r} can only be given inline in the scenario YAML, not in a table"
        else:
            problem = f"unknown {noun} {name!r} in {rows.kind}{_suggest(name, permitted)}"
        line = rows.header_line if rows.is_table else _first_use(rows, name)
        raise _error(problem, file=rows.file, line=line, field=name,
                     expected=f"only the {rows.kind} {noun}s {_listing(permitted)}")
    for name in required if rows.is_table else ():
        if name not in rows.frame.columns:
            optional = _listing(c for c in permitted if c not in required)
            raise _error(f"the {rows.kind} table has no {name!r} column", file=rows.file,
                         line=rows.header_line, field=name,
                         expected=f"a header with the columns {_listing(required)} (optional: {optional})")


def _first_use(rows: _Rows, name: str) -> int:
    lines, prefix = rows.yaml
    first = next((i for i in range(len(rows.frame)) if prefix + (i, name) in lines), 0)
    return rows.line(first, name)


def _text(rows: _Rows, field: str, required: bool = False) -> pd.Series:
    """The field as text (str dtype, NA where missing; all-NaN when the field is absent). A YAML
    number where text belongs is an error, never converted: `id: 007` would otherwise become '7'."""
    s = rows.col(field)
    present = s.notna().to_numpy()
    not_text = "{} for {} is not text"
    if s.dtype == object:
        is_text = np.fromiter((isinstance(v, str) for v in s.to_numpy()), bool, len(s))
        _fail(rows, present & ~is_text, field, lambda i: not_text.format(_show(s.iat[i]), rows.label(i)),
              "text (put ids that look like numbers in quotes: id: '007')")
    elif pd.api.types.is_integer_dtype(s):  # a Parquet column of integer ids: unambiguous as text
        s = s.astype("str")
    elif not pd.api.types.is_string_dtype(s):
        _fail(rows, present, field, lambda i: not_text.format(_show(s.iat[i]), rows.label(i)),
              "a text column")
    if required:
        _fail(rows, ~present, field, lambda i: f"{rows.label(i)} has no {field!r}",
              f"a {field!r} for every {rows.noun}")
    if not present.any():  # an absent column: turning a million NaN into text costs 0.1 s for nothing
        return s
    return s if s.dtype == "str" else s.astype("str")


def _number(rows: _Rows, field: str, *, gt: float | None = None, ge: float | None = None) -> np.ndarray:
    """The field as float64 (NaN where missing), with its lower bound checked."""
    s = rows.col(field)
    present = s.notna().to_numpy()
    bound = f" > {gt:g}" if gt is not None else f" >= {ge:g}" if ge is not None else ""
    if pd.api.types.is_bool_dtype(s):
        numeric = np.zeros(len(s), bool)
    elif s.dtype == object:  # YAML values: true/false and lists are not numbers
        numeric = np.fromiter((isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in s),
                              bool, len(s))
    else:
        numeric = np.ones(len(s), bool)
    converted = pd.to_numeric(s if numeric.all() else s.where(pd.Series(numeric)), errors="coerce")
    values = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    _fail(rows, present & ~np.isfinite(values), field,
          lambda i: f"{_show(s.iat[i])} for {rows.label(i)} is not a number",
          f"a number{bound} (with '.' for decimals)")
    if gt is not None:
        _fail(rows, present & ~(values > gt), field,
              lambda i: f"{values[i]:g} for {rows.label(i)} is not above {gt:g}", f"a number{bound}")
    if ge is not None:
        _fail(rows, present & ~(values >= ge), field,
              lambda i: f"{values[i]:g} for {rows.label(i)} is below {ge:g}", f"a number{bound}")
    return values


def _lists(rows: _Rows, field: str) -> tuple[np.ndarray, np.ndarray]:
    """The field as tuples of text (`()` where missing), and the positions of the non-empty ones.
    A text cell is `;`-separated; YAML (and Parquet) may also give a real list."""
    s = rows.col(field)
    out = np.empty(len(s), dtype=object)
    out.fill(())
    given = np.flatnonzero(s.notna().to_numpy())
    if given.size == 0:
        return out, given
    values = s.iloc[given]
    if values.dtype == "str":  # table cells: one vectorised split, then a loop over given cells only
        for i, parts in zip(given, values.str.split(";")):
            out[i] = tuple(p for p in (x.strip() for x in parts) if p)
    else:
        for i, value in zip(given, values):
            out[i] = _one_list(rows, field, int(i), value)
    return out, given[np.fromiter((len(out[i]) > 0 for i in given), bool, given.size)]


def _one_list(rows: _Rows, field: str, i: int, value: Any) -> tuple:
    if isinstance(value, str):
        return tuple(p for p in (x.strip() for x in value.split(";")) if p)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise rows.error(f"{_show(value)} for {rows.label(i)} is not a list", i, field,
                         expected="a list like [a, b] or text like 'a;b'")
    for j, item in enumerate(value):
        if not isinstance(item, str):
            raise rows.error(f"{_show(item)} in the {field} list of {rows.label(i)} is not text", i, field, j,
                             expected="text (quote numbers)")
    return tuple(p for p in (x.strip() for x in value) if p)


def _ids(rows: _Rows) -> pd.Series:
    ids = _text(rows, "id", required=True)
    if not pd.Index(ids).is_unique:  # the common, clean case costs one hash pass
        dup = ids.duplicated(keep=False).to_numpy()
        i = int(np.flatnonzero(dup)[0])
        twin = int(np.flatnonzero(dup & (ids == ids.iat[i]).to_numpy())[1])
        count = int(ids[dup].nunique())
        more = f" ({count} ids are used more than once)" if count > 1 else ""
        raise rows.error(f"{rows.noun} id {ids.iat[i]!r} is used twice: on line {rows.line(i, 'id')} and on "
                         f"line {rows.line(twin, 'id')}{more}", twin, "id",
                         expected=f"each {rows.noun} id once")
    rows.ids = ids
    return ids


def _known(rows: _Rows, field: str, values: pd.Series, known: list[str] | pd.Series, what: str) -> None:
    bad = values.notna().to_numpy() & ~values.isin(known).to_numpy()
    _fail(rows, bad, field,
          lambda i: f"{what} {values.iat[i]!r} of {rows.label(i)} is unknown{_suggest(values.iat[i], known)}",
          f"one of the {what}s: {_listing(known)}")


def _known_in_lists(rows: _Rows, field: str, lists: np.ndarray, given: np.ndarray, known: pd.Series) -> None:
    """Every id in the non-empty lists is a known staff id (one `isin` over all of them)."""
    if given.size == 0:
        return
    ends = np.cumsum([len(lists[i]) for i in given])
    flat = pd.Series(np.concatenate([np.asarray(lists[i], dtype=object) for i in given]), dtype=object)
    unknown = np.flatnonzero(~flat.isin(known).to_numpy())
    if unknown.size == 0:
        return
    k = int(unknown[0])
    row = int(np.searchsorted(ends, k, side="right"))
    i, j = int(given[row]), k - (int(ends[row - 1]) if row else 0)
    more = f" ({unknown.size} unknown ids in all)" if unknown.size > 1 else ""
    raise rows.error(f"staff id {flat.iat[k]!r} in the {field} list of {rows.label(i)} is unknown"
                     f"{_suggest(flat.iat[k], known)}{more}", i, field, j,
                     expected="ids of staff in this scenario")


def _object(values: pd.Series) -> pd.Series:
    """Text column as object dtype with None for missing (explicit: pandas 3 would infer `str`)."""
    return pd.Series(values.to_numpy(dtype=object, na_value=None), dtype=object)


# ---------------------------------------------------------------------------------------------
# Staff, cases, caseload
# ---------------------------------------------------------------------------------------------

_STAFF_FIELDS = ("id", "fte", "capacity_hours", "specialisations", "grade", "current_load_hours",
                 "unavailable", "office")
_CASE_FIELDS = ("id", "type", "weight_hours", "group", "excluded", "assigned_to")
_CASELOAD_FIELDS = ("type", "filings", "office")


def _staff(rows: _Rows, model: WorkloadModel, period: Period | None) -> pd.DataFrame:
    _check_columns(rows, _STAFF_FIELDS, ("id",), yaml_only=("unavailable",))
    if rows.is_table and not {"fte", "capacity_hours"} & set(rows.frame.columns):
        raise _error("the staff table has neither an 'fte' nor a 'capacity_hours' column", file=rows.file,
                     line=rows.header_line, field="fte", expected="a column fte or capacity_hours (or both)")
    ids = _ids(rows)
    fte = _number(rows, "fte", ge=0)
    hours = _number(rows, "capacity_hours", ge=0)
    one_of = "exactly one of fte or capacity_hours per staff member"
    _fail(rows, ~np.isnan(fte) & ~np.isnan(hours), "capacity_hours",
          lambda i: f"{rows.label(i)} has both fte and capacity_hours", one_of)
    _fail(rows, np.isnan(fte) & np.isnan(hours), "fte",
          lambda i: f"{rows.label(i)} has neither fte nor capacity_hours", one_of)
    load = _number(rows, "current_load_hours", ge=0)
    return pd.DataFrame({
        "id": ids,
        "fte": fte,
        "capacity_hours": hours,
        "specialisations": _lists(rows, "specialisations")[0],
        "grade": _object(_grade(rows, model)),
        "current_load_hours": np.where(np.isnan(load), 0.0, load),
        "unavailable": _absences(rows, period),
        "office": _object(_text(rows, "office")),
    })


def _grade(rows: _Rows, model: WorkloadModel) -> pd.Series:
    grade = _text(rows, "grade")
    if model.grades:
        _known(rows, "grade", grade, model.grades, "grade")
    else:
        _fail(rows, grade.notna(), "grade",
              lambda i: f"{rows.label(i)} has grade {grade.iat[i]!r}, but the workload model has no grades",
              "no grade, or a `grades:` list in the workload model")
    return grade


def _absences(rows: _Rows, period: Period | None) -> np.ndarray:
    """`unavailable` as tuples of (from, to) dates. YAML only, so the loop is over people with absences."""
    s = rows.col("unavailable")
    out = np.empty(len(s), dtype=object)
    out.fill(())
    for i in map(int, np.flatnonzero(s.notna().to_numpy())):
        value = s.iat[i]
        if period is None:
            raise rows.error(f"{rows.label(i)} has unavailable days, but the scenario has no period", i,
                             "unavailable", expected="a `period: {start: …, end: …}` in the scenario")
        if not isinstance(value, list):
            raise rows.error(f"{_show(value)} for {rows.label(i)} is not a list", i, "unavailable",
                             expected="a list like [{from: 2025-02-01, to: 2025-02-14}]")
        lines, prefix = rows.yaml
        spans = []
        for j, item in enumerate(value):
            try:
                span = _Absence.model_validate(item)
            except ValidationError as exc:
                raise _translate(exc, _Absence, rows.file, lines, prefix + (i, "unavailable", j)) from None
            spans.append((span.from_, span.to))
        out[i] = tuple(spans)
    return out


def _cases(rows: _Rows, model: WorkloadModel, staff_ids: pd.Series, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    _check_columns(rows, _CASE_FIELDS + extra, ("id", "type"))
    ids = _ids(rows)
    types = _text(rows, "type", required=True)
    _known(rows, "type", types, [ct.id for ct in model.case_types], "case type")
    excluded, given = _lists(rows, "excluded")
    _known_in_lists(rows, "excluded", excluded, given, staff_ids)
    assigned = _text(rows, "assigned_to")
    _known(rows, "assigned_to", assigned, staff_ids, "staff id")
    return pd.DataFrame({
        "id": ids,
        "type": types,
        "weight_hours": _number(rows, "weight_hours", gt=0),
        "group": _object(_text(rows, "group")),
        "excluded": excluded,
        "assigned_to": _object(assigned),
    })


def _no_cases() -> pd.DataFrame:
    dtypes = {"id": "str", "type": "str", "weight_hours": np.float64, "group": object, "excluded": object,
              "assigned_to": object}
    return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in dtypes.items()})


def _caseload(rows: _Rows, model: WorkloadModel) -> pd.DataFrame:
    _check_columns(rows, _CASELOAD_FIELDS, ("type", "filings"))
    types = _text(rows, "type", required=True)
    _known(rows, "type", types, [ct.id for ct in model.case_types], "case type")
    filings = _number(rows, "filings", ge=0)
    _fail(rows, np.isnan(filings), "filings",
          lambda i: f"the caseload row for {types.iat[i]!r} has no filings",
          "a number of filings >= 0 on every caseload row")
    return pd.DataFrame({"type": types, "filings": filings, "office": _object(_text(rows, "office"))})


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def load_new_cases(path: str | Path, scenario: Scenario) -> tuple[pd.DataFrame, str, str]:
    """A table of newly arrived cases for `scenario` (the scenario's case columns, no `assigned_to`,
    and an optional `date`: the day each arrived). Returns the cases (`date` a datetime.date or
    None), the file's name as given and its SHA-256. Bad rows raise InputError with file and line."""
    path = Path(path)
    shown = _display(path)
    where = dict(file=shown, field="NEW_CASES")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise _error(f"{shown!r} is not a kind of table this tool reads", **where,
                     expected="a .csv, .xlsx or .parquet file")
    data = _read_bytes(path, _error(f"the file {shown!r} does not exist", **where, expected="a new-cases table"))
    frame, first_line, header_line = reader(data, shown)
    frame, row_lines = _normalise(frame, first_line)
    rows = _Rows("new cases", "case", frame, shown, row_lines, header_line)
    cases = _cases(rows, scenario.model, scenario.staff["id"], extra=("date",))
    _fail(rows, cases["assigned_to"].notna(), "assigned_to",
          lambda i: f"new case {cases['id'].iat[i]!r} already names a holder",
          "no assigned_to column in new cases (intake allocates them)")
    _fail(rows, cases["id"].isin(scenario.cases["id"]), "id",
          lambda i: f"case id {cases['id'].iat[i]!r} is already in the scenario's cases",
          "ids not yet in the scenario")
    text = _text(rows, "date")
    days = pd.to_datetime(text, errors="coerce", format="ISO8601")
    _fail(rows, text.notna() & days.isna(), "date", lambda i: f"{_show(text.iat[i])} is not a date",
          "an ISO date like 2025-04-01, or an empty cell")
    cases["date"] = [d.date() if pd.notna(d) else None for d in days]
    return cases.drop(columns="assigned_to"), path.name, hashlib.sha256(data).hexdigest()


def load_model(path: str | Path) -> WorkloadModel:
    """Read and validate a workload model YAML file; raise `InputError` for any bad input."""
    missing = _error("the file does not exist", file=str(path),
                     expected="a path to a workload model YAML file")
    return _model_from(_read_yaml(Path(path), str(path), missing))


def _model_from(doc: _Doc) -> WorkloadModel:
    if not isinstance(doc.data, dict):
        raise _error("the file is not a mapping of keys", file=doc.shown, line=1,
                     expected="a workload model with name, hours_per_fte, grades and case_types")
    return _validate(WorkloadModel, doc.data, doc)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML and every file it references; raise `InputError` for any bad input."""
    file = Path(path)
    missing = _error("the file does not exist", file=str(path), expected="a path to a scenario YAML file")
    doc = _read_yaml(file, str(path), missing)
    if not isinstance(doc.data, dict):
        raise _error("the file is not a mapping of keys", file=doc.shown, line=1,
                     expected="a scenario with name, model (or case_types), staff and cases")
    header: _Header = _validate(_Header, doc.data, doc)
    inputs = {file.name: doc.digest}
    model = _scenario_model(doc, header, inputs)
    staff_rows = _rows("staff", "staff member", doc, inputs)
    if staff_rows is None:
        raise _error("the scenario has no staff", file=doc.shown, line=1, field="staff",
                     expected="`staff:` with a list of people or a path to a .csv, .xlsx or .parquet table")
    staff = _staff(staff_rows, model, header.period)
    case_rows = _rows("cases", "case", doc, inputs)
    load_rows = _rows("caseload", "caseload row", doc, inputs)
    if case_rows is None and load_rows is None:
        raise _error("the scenario has no cases", file=doc.shown, line=1, field="cases",
                     expected="`cases:` with a list or a table path (or `caseload:` for staffing questions)")
    return Scenario(
        name=header.name,
        description=header.description,
        path=file.resolve(),
        model=model,
        period=header.period,
        policy=header.policy or Policy(),
        staff=staff,
        cases=_cases(case_rows, model, staff["id"]) if case_rows is not None else _no_cases(),
        inputs=inputs,
        caseload=_caseload(load_rows, model) if load_rows is not None else None,
        overrides=header.overrides or {},
        variants=header.scenarios or {},
    )


def _scenario_model(doc: _Doc, header: _Header, inputs: dict[str, str]) -> WorkloadModel:
    """The workload model: from the file `model:` names, or from inline `case_types:`."""
    data, lines, shown = doc.data, doc.lines, doc.shown
    either = "either `model: path/to/model.yaml` or inline `case_types:`"
    if header.model is not None and header.case_types is not None:
        raise _error("both `model` and `case_types` are given", file=shown, line=lines.at(("case_types",)),
                     field="case_types", expected=f"{either}, not both")
    if header.model is None and header.case_types is None:
        raise _error("no workload model: neither `model` nor `case_types` is given", file=shown, line=1,
                     field="model", expected=either)
    if header.case_types is not None:
        given = {k: data[k] for k in ("case_types", "hours_per_fte", "grades") if data.get(k) is not None}
        return _validate(WorkloadModel, {"name": header.name, **given}, doc)
    for key in ("hours_per_fte", "grades"):
        if data.get(key) is not None:
            raise _error(f"`{key}` is given next to `model:`", file=shown, line=lines.at((key,)), field=key,
                         expected=f"`{key}` in the workload model file, or inline `case_types:` instead")
    path = doc.path.parent / header.model
    missing = _error(f"the model file {header.model!r} does not exist (looked for {_display(path)})",
                     file=shown, line=lines.at(("model",)), field="model",
                     expected="a path to a workload model YAML, relative to the scenario file's folder")
    model_doc = _read_yaml(path, _display(path), missing)
    inputs[_relative(path, doc.path.resolve().parent)] = model_doc.digest
    return _model_from(model_doc)
