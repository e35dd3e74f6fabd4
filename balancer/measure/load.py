"""Load step of `balancer measure`: the study YAML and its tables → arrays ready to sum.

Tables are read by the scenario loader's readers and column rules (`balancer.scenario.readers`,
`balancer.scenario.tables`), so a time record is refused exactly as a case row is: file, line,
field and what was expected (a CSV row cut short, a formula cell, NaN, a negative number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.measure.schema import MINUTES, Adjustments, Study
from balancer.scenario import bounds
from balancer.scenario.messages import _error, _show, _suggest, _listing
from balancer.scenario.tables import _check_columns, _fail, _ids, _known, _number, _rows, _Rows, _text
from balancer.scenario.validation import _validate
from balancer.scenario.yaml_reader import _Doc, _read_yaml

__all__ = ["StudyData", "load_adjustments", "load_study"]

RECORD_COLUMNS = ("prosecutor", "date", "type", "minutes", "case_id", "activity", "office")
RECORD_REQUIRED = ("prosecutor", "date", "type", "minutes")
CASES = (0.0, 1e8)
"""Cases of one type (and prosecutor) in a study period."""


@dataclass
class StudyData:
    """A loaded study: the validated YAML and its records as arrays (one entry per record)."""

    study: Study
    path: Path
    staff: pd.DataFrame
    """id, fte, office (None where not given), in the file's order; record `prosecutor` indexes it."""
    prosecutor: np.ndarray
    """Per record: index into `staff`."""
    day: np.ndarray
    """Per record: days since the period's start."""
    type_name: pd.Series
    """Per record: the `type` column as written."""
    minutes: np.ndarray
    """Per record: minutes."""
    activity: pd.Series | None
    """Per record: the `activity` column, when given."""
    case_id: pd.Series | None
    """Per record: the `case_id` column, when given."""
    counts: np.ndarray
    """Cases per study type in the period (in `study.case_types` order)."""
    counts_by_prosecutor: np.ndarray | None
    """Staff × type case counts, when counts name their prosecutor; None: office totals only."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Every file read (relative to the study's folder) → SHA-256."""

    @property
    def type_ids(self) -> list[str]:
        return [t.id for t in self.study.case_types]


def _mapping(path: Path, what: str, keys: str):
    """The YAML file at `path`, read as the scenario loader reads one, which must be a mapping."""
    doc = _read_yaml(path, str(path), _error("the file does not exist", file=str(path),
                                             expected=f"a path to {what} (YAML)"))
    if not isinstance(doc.data, dict):
        raise _error("the file is not a mapping of keys", file=doc.shown, line=1, expected=f"{what} with {keys}")
    return doc


def load_study(path: str | Path) -> StudyData:
    """Read and check a study YAML and every table it names; InputError for any bad input."""
    path = Path(path)
    doc = _mapping(path, "a time study", "name, period, year, case_types, records, staff, case_counts")
    study = _validate(Study, doc.data, doc)
    inputs = {path.name: doc.digest}
    staff = _staff(_rows("staff", "staff member", doc, inputs))
    rec = _rows("records", "time record", doc, inputs)
    prosecutor, day, types, minutes, office = _records(rec, study, staff)
    if office is not None:
        staff = _offices_from_records(rec, staff, prosecutor, office)
    counts, by_prosecutor = _counts(study, doc, inputs, staff)
    return StudyData(
        study=study, path=path.resolve(), staff=staff, prosecutor=prosecutor, day=day, type_name=types,
        minutes=minutes,
        activity=_text(rec, "activity") if "activity" in rec.frame.columns else None,
        case_id=_text(rec, "case_id") if "case_id" in rec.frame.columns else None,
        counts=counts, counts_by_prosecutor=by_prosecutor, inputs=inputs)


def _staff(rows: _Rows) -> pd.DataFrame:
    _check_columns(rows, ("id", "fte", "office", "grade", "specialisations"), ("id", "fte"))
    ids = _ids(rows)
    fte = _number(rows, "fte", bounds.FTE, zero=True)
    _fail(rows, np.isnan(fte), "fte", lambda i: f"{rows.label(i)} has no fte", "an fte for every staff member")
    office = _text(rows, "office")
    grade = _text(rows, "grade")
    specialisations = _text(rows, "specialisations")  # kept for `--compare`'s staffing scenario
    return pd.DataFrame({"id": ids.to_numpy(dtype=object), "fte": fte,
                         "office": office.to_numpy(dtype=object, na_value=None),
                         "grade": grade.to_numpy(dtype=object, na_value=None),
                         "specialisations": specialisations.to_numpy(dtype=object, na_value=None)})


def _required(rows: _Rows, name: str) -> None:
    _fail(rows, rows.col(name).isna().to_numpy(), name, lambda i: f"{rows.label(i)} has no {name!r}",
          f"a {name!r} on every {rows.noun}")


def _dates(rows: _Rows, name: str, study: Study) -> np.ndarray:
    """Days since the period's start; refused where not a date or outside the period."""
    s = rows.col(name)
    if pd.api.types.is_datetime64_any_dtype(s):
        days = pd.to_datetime(s)
        text = s.astype("str")
    elif s.dtype == object and any(isinstance(v, date) for v in s.head(100)):  # Parquet date32, YAML dates
        days = pd.to_datetime(s, errors="coerce")
        text = s.map(str)
    else:
        text = _text(rows, name)
        days = pd.to_datetime(text, errors="coerce", format="ISO8601")
    _fail(rows, (text.notna() & days.isna()).to_numpy(), name, lambda i: f"{_show(text.iat[i])} is not a date",
          "an ISO date like 2026-03-02")
    start = pd.Timestamp(study.period.start)
    offset = ((days - start).dt.days).to_numpy(dtype=np.float64, na_value=np.nan)
    outside = ~np.isnan(offset) & ((offset < 0) | (offset >= study.period.days))
    _fail(rows, outside, name,
          lambda i: f"{days.iat[i].date()} is outside the study period {study.period.start} to {study.period.end}",
          "a date within the study's `period`")
    return offset


def _records(rows: _Rows, study: Study, staff: pd.DataFrame):
    _check_columns(rows, RECORD_COLUMNS, RECORD_REQUIRED)
    for name in RECORD_REQUIRED:
        _required(rows, name)
    who = _text(rows, "prosecutor")
    _known(rows, "prosecutor", who, staff["id"], "prosecutor")
    prosecutor = pd.Index(staff["id"]).get_indexer(who)
    day = _dates(rows, "date", study).astype(np.int64)
    types = _text(rows, "type")
    if study.unknown_types == "refuse":
        _known(rows, "type", types, pd.Series([t.id for t in study.case_types] + list(study.non_case), dtype=object),
               "case type or non-case activity")
    minutes = _number(rows, "minutes", MINUTES)
    office = _text(rows, "office") if "office" in rows.frame.columns else None
    return prosecutor, day, types, minutes, office


def _offices_from_records(rows: _Rows, staff: pd.DataFrame, prosecutor: np.ndarray,
                          office: pd.Series) -> pd.DataFrame:
    """Each prosecutor's office from the records' `office` column: one per prosecutor, and the staff
    table's where it gives one."""
    frame = pd.DataFrame({"p": prosecutor, "office": office.to_numpy(dtype=object, na_value=None)})
    first = frame.dropna().drop_duplicates("p").set_index("p")["office"]
    mine = frame["p"].map(first)
    _fail(rows, (frame["office"].notna() & (frame["office"] != mine)).to_numpy(), "office",
          lambda i: f"prosecutor {staff['id'].iat[prosecutor[i]]!r} is in office {frame['office'].iat[i]!r} here "
                    f"and in {mine.iat[i]!r} on an earlier line", "one office per prosecutor")
    given = staff["office"].notna().to_numpy()
    staff = staff.copy()
    from_records = staff.index.map(first).to_numpy(dtype=object)
    clash = given & pd.notna(from_records) & (staff["office"].to_numpy(dtype=object) != from_records)
    _fail(rows, clash[prosecutor], "office",
          lambda i: f"prosecutor {staff['id'].iat[prosecutor[i]]!r} is in office {frame['office'].iat[i]!r} here "
                    f"but in {staff['office'].iat[prosecutor[i]]!r} in the staff list", "the staff list's office")
    staff["office"] = np.where(given, staff["office"].to_numpy(dtype=object), from_records)
    staff["office"] = staff["office"].where(staff["office"].notna(), None)
    return staff


def _counts(study: Study, doc: _Doc, inputs: dict[str, str], staff: pd.DataFrame):
    types = [t.id for t in study.case_types]
    listed = study.case_list is not None
    kind = "case_list" if listed else "case_counts"
    rows = _rows(kind, "case" if listed else "case count", doc, inputs)
    if listed:
        _check_columns(rows, ("id", "type", "prosecutor", "date"), ("id", "type"))
        _ids(rows)
        if "date" in rows.frame.columns:
            _dates(rows, "date", study)
        n = np.ones(len(rows.frame))
    else:
        _check_columns(rows, ("type", "cases", "prosecutor"), ("type", "cases"))
        _required(rows, "cases")
        n = _number(rows, "cases", CASES)
        _fail(rows, n != np.floor(n), "cases", lambda i: f"{n[i]:g} cases is not a whole number", "a whole number")
    _required(rows, "type")
    t = _text(rows, "type")
    _known(rows, "type", t, pd.Series(types, dtype=object), "case type")
    ti = pd.Index(types).get_indexer(t)
    if "prosecutor" not in rows.frame.columns:
        if not listed:
            _no_twice(rows, t, "type")
        return np.bincount(ti, weights=n, minlength=len(types)), None
    _required(rows, "prosecutor")
    who = _text(rows, "prosecutor")
    _known(rows, "prosecutor", who, staff["id"], "prosecutor")
    pi = pd.Index(staff["id"]).get_indexer(who)
    if not listed:
        _no_twice(rows, t + "\x00" + who, "type")
    by = np.bincount(pi * len(types) + ti, weights=n, minlength=len(staff) * len(types))
    by = by.reshape(len(staff), len(types))
    return by.sum(axis=0), by


def _no_twice(rows: _Rows, key: pd.Series, field: str) -> None:
    twice = key.duplicated().to_numpy()
    _fail(rows, twice, field, lambda i: f"the count for {_show(key.iat[i].replace(chr(0), ', '))} is given twice",
          "one count per type (and prosecutor)")


def load_adjustments(path: str | Path, type_ids: list[str]) -> tuple[Adjustments, str]:
    """An adjustments file, every type one of the study's; returns it and the file's SHA-256."""
    path = Path(path)
    doc = _mapping(path, "an adjustments file", "round and adjustments")
    found = _validate(Adjustments, doc.data, doc)
    for i, a in enumerate(found.adjustments):
        if a.type not in type_ids:
            raise InputError(f"case type {a.type!r} is not one of the study's{_suggest(a.type, type_ids)}",
                             file=doc.shown, line=doc.lines.at(("adjustments", i, "type")),
                             field="adjustments.type", expected=f"one of the study's case types: {_listing(type_ids)}")
    return found, doc.digest
