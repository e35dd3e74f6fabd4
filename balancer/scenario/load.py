"""The loader's entry points: a scenario YAML with everything it references (and, if asked, one of
its named variants and dotted settings applied), a workload model, a table of newly arrived
cases, and a cheap look at a scenario file's top level."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from pydantic import ValidationError

from balancer.errors import InputError, InputErrors
from balancer.scenario.bounds import MAX_TABLE_BYTES
from balancer.scenario.messages import (_collecting, _confined, _display, _error, _listing, _read_bytes, _relative,
                                        _report, _show, _suggest)
from balancer.scenario.readers import READERS
from balancer.scenario.rows import _caseload, _cases, _no_cases, _staff
from balancer.scenario.schema import Policy, Scenario, TableRef, WorkloadModel, _Header
from balancer.scenario.settings import _apply, _variant
from balancer.scenario.tables import _fail, _rows, _table, _text
from balancer.scenario.validation import _errors, _validate
from balancer.scenario.yaml_reader import _Doc, _read_yaml

__all__ = ["Peek", "load_model", "load_new_cases", "load_scenario", "peek"]



def load_new_cases(path: str | Path, scenario: Scenario, sheet: str | None = None) -> tuple[pd.DataFrame, str, str]:
    """A table of newly arrived cases for `scenario` (the scenario's case columns, no `assigned_to`,
    and an optional `date`: the day each arrived), from `sheet` of a workbook if named. Returns the cases (`date` a datetime.date or
    None), the file's name as given and its SHA-256. Bad rows raise InputError with file and line."""
    path = Path(path)
    shown = _display(path)
    where = dict(file=shown, field="NEW_CASES")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise _error(f"{shown!r} is not a kind of table this tool reads", **where,
                     expected="a .csv, .xlsx or .parquet file")
    if sheet is not None and path.suffix.lower() != ".xlsx":
        raise _error(f"--sheet {_show(sheet)} names a sheet, but {shown!r} is not a workbook", file=shown,
                     field="--sheet", expected="--sheet only with an .xlsx file")
    data = _read_bytes(path, _error(f"the file {shown!r} does not exist", **where, expected="a new-cases table"),
                       MAX_TABLE_BYTES)
    rows = _table("new cases", "case", reader(data, shown, TableRef(path=str(path), sheet=sheet)), shown)
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


def load_scenario(path: str | Path, variant: str | None = None,
                  settings: Mapping[str, Any] | None = None, max_errors: int = 1,
                  within: str | Path | None = None) -> Scenario:
    """Read a scenario YAML and every file it references; raise `InputError` for any bad input.

    `variant` names one of the file's `scenarios:` (its `overrides` applied in order) or a single
    entry of `overrides:`; `settings` maps dotted keys to values (text is read as YAML) and is
    applied after the variant. See `balancer.scenario.settings` for the keys and what is recorded.
    `max_errors` > 1: go on after an error where the checks after it still mean something, and
    raise `InputErrors` with up to that many (what `balancer validate` reports). `within`: every
    file read (the scenario's own, its model and tables) must be inside this folder (a scenario
    uploaded to a server reads only what was uploaded with it)."""
    with _confined(None if within is None else Path(within)):
        if max_errors <= 1:
            return _load_scenario(Path(path), str(path), variant, settings)
        with _collecting(max_errors) as found:
            scenario = _load_scenario(Path(path), str(path), variant, settings)
    if found:
        raise InputErrors(found, more=len(found) >= max_errors)
    return scenario


def _load_scenario(file: Path, path: str, variant: str | None, settings: Mapping[str, Any] | None) -> Scenario:
    missing = _error("the file does not exist", file=str(path), expected="a path to a scenario YAML file")
    doc = _read_yaml(file, str(path), missing)
    if not isinstance(doc.data, dict):
        raise _error("the file is not a mapping of keys", file=doc.shown, line=1,
                     expected="a scenario with name, model (or case_types), staff and cases")
    header = _header(doc)
    named = _variant(variant, header, doc) if variant is not None else []  # a wrong name fails fast
    inputs = {file.name: doc.digest}
    model = _scenario_model(doc, header, inputs)
    staff_rows = _rows("staff", "staff member", doc, inputs)
    if staff_rows is None:
        raise _error("the scenario has no staff", file=doc.shown, line=1, field="staff",
                     expected="`staff:` with a list of people or a path to a .csv, .xlsx or .parquet table")
    staff = _staff(staff_rows, model, header.period)
    case_rows = _rows("cases", "case", doc, inputs, empty=True)  # `cases: []`: an office holding none yet
    load_rows = _rows("caseload", "caseload row", doc, inputs)
    if case_rows is None and load_rows is None and doc.data.get("cases") != []:
        raise _error("the scenario has no cases", file=doc.shown, line=1, field="cases",
                     expected="`cases:` with a list or a table path (or `caseload:` for staffing questions)")
    scenario = Scenario(
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
    if variant is not None or settings:
        explicit = [(key, value, None) for key, value in (settings or {}).items()]
        scenario = _apply(scenario, named + explicit, variant, doc.shown)
    _check_seasons(scenario, doc)
    return scenario


def _check_seasons(scenario: Scenario, doc: _Doc) -> None:
    """`policy.forecast.seasons` names case types of the model."""
    forecast = scenario.policy.forecast
    types = [t.id for t in scenario.model.case_types]
    for name in (forecast.seasons or {}) if forecast is not None else ():
        if name not in types:
            field = ("policy", "forecast", "seasons", name)
            raise _error(f"the forecast's seasons name {name!r}, which is not a case type{_suggest(name, types)}",
                         file=doc.shown, line=doc.lines.at(field), field=".".join(field),
                         expected=f"a case type of the model: {_listing(types)}")


_SKIPPABLE = {"name", "description", "policy", "overrides", "scenarios"}
"""Top-level keys the rest of a scenario does not depend on: while collecting errors (`validate`),
the rows are still checked when only these are wrong."""


def _header(doc: _Doc) -> _Header:
    try:
        return _Header.model_validate(doc.data)
    except ValidationError as exc:
        errors = _errors(exc, _Header, doc.shown, doc.lines)
        wrong = {err["loc"][0] for err in exc.errors() if err["loc"]}
    for error in errors:
        _report(error)  # raises the first unless collecting
    if not wrong <= _SKIPPABLE:
        raise errors[-1]
    kept = {key: value for key, value in doc.data.items() if key not in wrong}
    return _validate(_Header, {**kept, "name": kept.get("name", "?")}, doc)


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


@dataclass(frozen=True)
class Peek:
    """A scenario file's top level as written, not validated (see `peek`)."""

    name: str | None
    """`name:` when it is non-empty text, else None."""
    cases: bool
    """The file has `cases:` (an allocation scenario)."""
    caseload: bool
    """The file has `caseload:` (a staffing scenario)."""
    overrides: dict[str, Any]
    """`overrides:` as written; {} when absent or not a mapping."""
    scenarios: dict[str, Any]
    """`scenarios:` as written; {} when absent or not a mapping."""


def peek(path: str | Path) -> Peek | None:
    """A cheap look at a scenario file's top level, without validating it or reading its tables;
    None when the file cannot be read, is not YAML, or is not a mapping. Never raises for bad input."""
    try:
        doc = _read_yaml(Path(path), str(path), _error("the file does not exist", file=str(path)))
    except InputError:
        return None
    data = doc.data
    if not isinstance(data, dict):
        return None
    name = data.get("name")

    def mapping(key: str) -> dict[str, Any]:
        return data[key] if isinstance(data.get(key), dict) else {}

    return Peek(name=name if isinstance(name, str) and name else None, cases=data.get("cases") is not None,
                caseload=data.get("caseload") is not None, overrides=mapping("overrides"),
                scenarios=mapping("scenarios"))
