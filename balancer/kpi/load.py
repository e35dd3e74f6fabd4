"""Load step of `balancer kpi`: the case register, the staff table and the workload model → arrays.

Tables are read by the scenario loader's readers and column rules (`balancer.scenario.readers`,
`balancer.scenario.tables`), as `balancer measure` reads its time records, so a register row is
refused exactly as a scenario's case is: file, line, field and what was expected."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from balancer.kpi.schema import KpiOptions
from balancer.measure.load import _staff
from balancer.scenario import load_model
from balancer.scenario.bounds import MAX_TABLE_BYTES
from balancer.scenario.messages import _display, _error, _read_bytes, _show
from balancer.scenario.readers import READERS
from balancer.scenario.schema import TableRef, WorkloadModel
from balancer.scenario.tables import _check_columns, _fail, _ids, _known, _Rows, _table, _text

__all__ = ["CASE_COLUMNS", "Register", "load_register"]

CASE_COLUMNS = ("id", "type", "office", "prosecutor", "filed", "assigned", "disposed", "outcome")
CASE_REQUIRED = ("id", "type", "office", "filed")
UNSET = np.iinfo(np.int64).max // 4
"""Day number standing for "not disposed" / "not assigned": after any month."""


@dataclass
class Register:
    """A loaded register: one entry per case, with the staff and the model it is read against."""

    model: WorkloadModel
    staff: pd.DataFrame
    """id, fte, office (None where not given), in the staff table's order."""
    case_id: pd.Series
    type_name: pd.Series
    office: pd.Series
    prosecutor: pd.Series
    """Per case: the prosecutor as written (NA: not assigned to anyone)."""
    filed: np.ndarray
    """Per case: day number (days since 1970-01-01)."""
    assigned: np.ndarray
    """Per case: day number, UNSET where empty."""
    disposed: np.ndarray
    """Per case: day number, UNSET while pending."""
    outcome: pd.Series | None
    weight: np.ndarray
    """Per case: the model's weight_hours of its type (0 for a type the model does not hold)."""
    warnings: list[dict] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    """Every file read → SHA-256."""


def _file_rows(kind: str, noun: str, path: Path, option: str, inputs: dict[str, str]) -> _Rows:
    """A table named on the command line, read as a scenario's table is."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise _error(f"{_display(path)} is not a kind of table this tool reads", file=str(path), field=option,
                     expected="a .csv, .xlsx or .parquet file")
    data = _read_bytes(path, _error("the file does not exist", file=str(path), field=option,
                                    expected=f"a path to the {kind} table (.csv, .xlsx or .parquet)"),
                       MAX_TABLE_BYTES)
    inputs[_display(path)] = hashlib.sha256(data).hexdigest()
    rows = _table(kind, noun, READERS[suffix](data, _display(path), TableRef(path=str(path))), _display(path))
    if len(rows.frame) == 0:
        raise _error(f"the {kind} table has no rows", file=rows.file, line=rows.header_line, field=option,
                     expected=f"at least one {noun}")
    return rows


def _days(rows: _Rows, name: str, required: bool = False) -> np.ndarray:
    """The column as day numbers (float, NaN where empty); refused where not a date."""
    s = rows.col(name)
    if pd.api.types.is_datetime64_any_dtype(s):
        days = pd.to_datetime(s)
        text = s.astype("str").where(s.notna())
    elif s.dtype == object and any(isinstance(v, date) for v in s.head(100)):  # Parquet date32, openpyxl dates
        days = pd.to_datetime(s, errors="coerce")
        text = s.map(lambda v: None if pd.isna(v) else str(v))
    elif not s.notna().any():
        days, text = pd.Series(pd.NaT, index=s.index), s
    else:
        text = _text(rows, name)
        days = pd.to_datetime(text, errors="coerce", format="ISO8601")
    _fail(rows, (text.notna() & days.isna()).to_numpy(), name,
          lambda i: f"{_show(text.iat[i])} for {rows.label(i)} is not a date", "an ISO date like 2026-03-02")
    if required:
        _fail(rows, days.isna().to_numpy(), name, lambda i: f"{rows.label(i)} has no {name!r} date",
              f"a {name!r} date for every case")
    if getattr(days.dt, "tz", None) is not None:
        days = days.dt.tz_localize(None)
    return (days.dt.normalize() - pd.Timestamp(0)).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)


def load_register(cases: str | Path, model: str | Path, staff: str | Path, options: KpiOptions) -> Register:
    """Read and check the register, the model and the staff table; InputError for any bad input."""
    inputs: dict[str, str] = {}
    rows = _file_rows("cases", "case", Path(cases), "CASES", inputs)
    _check_columns(rows, CASE_COLUMNS, CASE_REQUIRED)
    ids = _ids(rows)
    type_name = _text(rows, "type", required=True)
    office = _text(rows, "office", required=True)
    prosecutor = _text(rows, "prosecutor")
    outcome = _text(rows, "outcome") if "outcome" in rows.frame.columns else None
    filed = _days(rows, "filed", required=True)
    assigned = _days(rows, "assigned")
    disposed = _days(rows, "disposed")
    _fail(rows, disposed < filed, "disposed",
          lambda i: f"{rows.label(i)} is disposed on {_day(disposed[i])}, before it was filed ({_day(filed[i])})",
          "a disposal date on or after the filing date")
    _fail(rows, assigned < filed, "assigned",
          lambda i: f"{rows.label(i)} is assigned on {_day(assigned[i])}, before it was filed ({_day(filed[i])})",
          "an assignment date on or after the filing date")
    _fail(rows, np.isnan(disposed) & outcome.notna().to_numpy() if outcome is not None else False, "outcome",
          lambda i: f"{rows.label(i)} has an outcome ({outcome.iat[i]!r}) but no disposal date",
          "an outcome only on a disposed case")

    the_model = load_model(model)
    found = _staff(_file_rows("staff", "staff member", Path(staff), "--staff", inputs))
    inputs[_display(Path(model))] = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    warnings: list[dict] = []

    type_ids = [t.id for t in the_model.case_types]
    if options.unknown_types == "refuse":
        _known(rows, "type", type_name, pd.Series(type_ids, dtype=object), "case type")
    ti = pd.Index(type_ids).get_indexer(type_name)
    unknown = ti < 0
    if unknown.any():
        names = type_name[unknown].value_counts()
        warnings.append({"kind": "unknown_type", "subject": ", ".join(names.index[:10]),
                         "message": f"{_cases(unknown.sum())} of types the model does not hold "
                                    f"({_most(names)}): they are counted, but add no hours to any weighted "
                                    "caseload"})
    weights = np.array([t.weight_hours for t in the_model.case_types] + [0.0])
    weight = weights[ti]  # -1 → the appended 0

    if options.unknown_prosecutors == "refuse":
        _known(rows, "prosecutor", prosecutor, found["id"], "prosecutor")
    stranger = prosecutor.notna().to_numpy() & ~prosecutor.isin(found["id"]).to_numpy()
    if stranger.any():
        names = prosecutor[stranger].value_counts()
        warnings.append({"kind": "unknown_prosecutor", "subject": ", ".join(names.index[:10]),
                         "message": f"{_cases(stranger.sum())} held by prosecutors not in the staff "
                                    f"table ({_most(names)}): counted, but with no FTE they have no caseload "
                                    "per FTE of their own"})
    unassigned = prosecutor.isna().to_numpy() & np.isnan(disposed)
    if "prosecutor" not in rows.frame.columns:
        warnings.append({"kind": "no_prosecutor_column", "subject": "",
                         "message": "the register has no 'prosecutor' column: no figures by prosecutor"})
    elif unassigned.any():
        warnings.append({"kind": "unassigned", "subject": "",
                         "message": f"{_cases(unassigned.sum(), 'has', 'have')} no prosecutor and no disposal date: "
                                    "counted for their office, type and the service, for no prosecutor"})

    late = assigned > disposed  # NaN (no date) compares False
    if late.any():
        i = int(np.flatnonzero(late)[0])
        warnings.append({"kind": "assigned_after_disposal", "subject": str(ids.iat[i]),
                         "message": f"{_cases(late.sum())} assigned after their disposal date (the first: "
                                    f"{rows.label(i)}, assigned {_day(assigned[i])}, disposed {_day(disposed[i])}): "
                                    "counted as filed and disposed, but never pending with their prosecutor"})

    def whole(days: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(days), UNSET, days).astype(np.int64)

    return Register(model=the_model, staff=found, case_id=ids, type_name=type_name, office=office,
                    prosecutor=prosecutor, filed=filed.astype(np.int64), assigned=whole(assigned),
                    disposed=whole(disposed), outcome=outcome, weight=weight, warnings=warnings, inputs=inputs)


def _most(counts: pd.Series) -> str:
    """The ten most frequent names with their counts, for a warning: 'a 30, b 12, …'."""
    return ", ".join(f"{k} {v:,}" for k, v in counts.head(10).items()) + (", …" if len(counts) > 10 else "")


def _cases(n, one: str = "is", many: str = "are") -> str:
    return f"1 case {one}" if n == 1 else f"{int(n):,} cases {many}"


def _day(number: float) -> str:
    return str(np.datetime64(int(number), "D"))
