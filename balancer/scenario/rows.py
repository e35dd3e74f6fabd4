"""Staff, cases and caseload: each kind's fields and rules, built from `tables`' column rules into
the DataFrames a `Scenario` holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import ValidationError

from balancer.scenario import bounds
from balancer.scenario.messages import _error, _show
from balancer.scenario.schema import Period, WorkloadModel, _Absence
from balancer.scenario.tables import (_check_columns, _fail, _ids, _known, _known_in_lists, _lists, _number,
                                      _object, _Rows, _text)
from balancer.scenario.validation import _translate

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
    fte = _number(rows, "fte", bounds.FTE, zero=True)
    hours = _number(rows, "capacity_hours", bounds.CAPACITY_HOURS, zero=True)
    one_of = "exactly one of fte or capacity_hours per staff member"
    # what was given, not what could be read: a bad value is reported once, as bad, not also as missing
    has_fte, has_hours = rows.col("fte").notna().to_numpy(), rows.col("capacity_hours").notna().to_numpy()
    _fail(rows, has_fte & has_hours, "capacity_hours",
          lambda i: f"{rows.label(i)} has both fte and capacity_hours", one_of)
    _fail(rows, ~has_fte & ~has_hours, "fte",
          lambda i: f"{rows.label(i)} has neither fte nor capacity_hours", one_of)
    load = _number(rows, "current_load_hours", bounds.LOAD_HOURS)
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
        "weight_hours": _number(rows, "weight_hours", bounds.WEIGHT_HOURS),
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
    filings = _number(rows, "filings", bounds.FILINGS)
    _fail(rows, np.isnan(filings), "filings",
          lambda i: f"the caseload row for {types.iat[i]!r} has no filings",
          "a number of filings >= 0 on every caseload row")
    return pd.DataFrame({"type": types, "filings": filings, "office": _object(_text(rows, "office"))})
