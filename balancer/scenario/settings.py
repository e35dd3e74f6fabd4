"""Named variants and dotted settings: the scenario as written, changed by keys like `policy.tolerance`.

Keys:
- `policy.<field>` and `policy.moves.<field>`: a field of `Policy` or of `Moves`;
- `model.hours_per_fte` and `model.case_types.<type id>.weight_hours`;
- `caseload.scale`: every caseload row's filings × this factor (≥ 0), relative to the file as
  written (setting it again replaces the factor, it does not multiply it).

Values may be typed already (from a mapping, or from the file's `overrides:`) or text as typed on
a command line, which is read as a YAML scalar (`0.02`, `hard`, `null`, `1e-3`). Each value is
validated by the pydantic model it lands in, so a bad key or value is an `InputError` naming the
file, the key and, for a variant's overrides, the line.

A scenario file may declare named `overrides:` (each a mapping of dotted keys to values) and
`scenarios:` (named lists of overrides). **Precedence**, lowest first: the file as written, the
named variant's overrides (in the order its `scenarios:` entry lists them, the later winning),
then explicit settings in their mapping's order.

What was applied is recorded on the `Scenario` (`variant`, and `settings`: the effective value of
each key as validated) and, because a re-weighted scenario is not the same input as its file, as
one more entry of `scenario.inputs`: `(settings)` → SHA-256 of `{"variant": …, "settings": …}` as
canonical JSON. A plain load has no such entry, so its inputs' digest is the file's as before.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import replace
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ValidationError

from balancer.errors import InputError
from balancer.scenario.bounds import CASELOAD_SCALE, span
from balancer.scenario.messages import _display, _error, _listing, _suggest
from balancer.scenario.schema import Moves, Policy, Scenario, WorkloadModel, _Header
from balancer.scenario.yaml_reader import _Doc, _scalar

__all__ = ["SETTINGS_INPUT", "apply_settings"]

SETTINGS_INPUT = "(settings)"
"""The entry of `Scenario.inputs` that stands for the variant and settings applied."""
_KEYS = ("policy.<field>, policy.moves.<field>, model.hours_per_fte, model.case_types.<id>.weight_hours "
         "or caseload.scale")
_WEIGHT = ("model.case_types.", ".weight_hours")

_Entry = tuple[str, Any, int | None]
"""(dotted key, value, its line in the scenario file, or None when it was not written there)."""


def apply_settings(scenario: Scenario, settings: Mapping[str, Any]) -> Scenario:
    """A copy of `scenario` with the dotted `settings` applied in order, on top of what was applied
    before (its variant stays recorded; a key given again wins). InputError if a key or value is bad."""
    if not settings:
        return scenario
    entries = [(key, value, None) for key, value in settings.items()]
    return _apply(scenario, entries, scenario.variant, _display(scenario.path))


def _variant(name: str, header: _Header, doc: _Doc) -> list[_Entry]:
    """The overrides of the file's variant `name`, in the order they apply: those of its `scenarios:`
    entry as listed, or the one `overrides:` entry of that name."""
    overrides, combos = header.overrides or {}, header.scenarios or {}
    parts = combos.get(name, [name] if name in overrides else None)
    if parts is None:
        known = [*combos, *(o for o in overrides if o not in combos)]
        where = "scenarios" if combos else "overrides" if overrides else None
        raise _error(f"variant {name!r} is neither in the file's `scenarios` nor its `overrides`"
                     f"{_suggest(name, known)}", file=doc.shown, line=doc.lines.at((where,)) if where else 1,
                     field="variant",
                     expected=f"one of: {_listing(known)}" if known else "a file that declares `overrides:`")
    return [(key, value, doc.lines.at(("overrides", part, key)))
            for part in parts for key, value in overrides[part].items()]


def _apply(scenario: Scenario, entries: list[_Entry], variant: str | None, file: str) -> Scenario:
    """`scenario` with `entries` applied in order, recorded as `variant` and settings; `file` names
    the scenario in messages."""
    policy, model, applied = scenario.policy, scenario.model, dict(scenario.settings)
    for key, given, line in entries:
        where = dict(file=file, line=line, field=key)
        value, parts = _scalar(given) if isinstance(given, str) else given, key.split(".")
        if parts[0] == "policy" and len(parts) == 2:
            _known_field(Policy, parts[1], "policy", key, where)
            policy = _revalidate(Policy, {**policy.model_dump(), parts[1]: value}, given, where)
            applied[key] = policy.model_dump(mode="json")[parts[1]]
        elif parts[:2] == ["policy", "moves"] and len(parts) == 3:
            _known_field(Moves, parts[2], "moves", key, where)
            moves = _revalidate(Moves, {**policy.moves.model_dump(), parts[2]: value}, given, where)
            policy = policy.model_copy(update={"moves": moves})
            applied[key] = moves.model_dump(mode="json")[parts[2]]
        elif key == "model.hours_per_fte":
            model = _revalidate(WorkloadModel, {**model.model_dump(), "hours_per_fte": value}, given, where)
            applied[key] = model.hours_per_fte
        elif key.startswith(_WEIGHT[0]) and key.endswith(_WEIGHT[1]) and len(key) > len("".join(_WEIGHT)):
            type_id = key[len(_WEIGHT[0]):-len(_WEIGHT[1])]
            data = model.model_dump()
            hit = [ct for ct in data["case_types"] if ct["id"] == type_id]
            if not hit:
                raise _error(f"no case type {type_id!r} in {key}", **where,
                             expected=f"one of {', '.join(ct['id'] for ct in data['case_types'])}")
            hit[0]["weight_hours"] = value
            model = _revalidate(WorkloadModel, data, given, where)
            applied[key] = next(ct.weight_hours for ct in model.case_types if ct.id == type_id)
        elif key == "caseload.scale":
            applied[key] = _factor(scenario, value, given, where)
        else:
            raise _error(f"cannot set {key}", **where, expected=_KEYS)
    caseload = _scaled(scenario, applied.get("caseload.scale", 1.0), file)
    return _recorded(replace(scenario, policy=policy, model=model, caseload=caseload, variant=variant,
                             settings=applied))


def _known_field(cls: type[BaseModel], name: str, what: str, key: str, where: dict) -> None:
    if name not in cls.model_fields:
        raise _error(f"unknown {what} field {name!r} in {key}{_suggest(name, list(cls.model_fields))}", **where,
                     expected=f"one of {', '.join(cls.model_fields)}")


def _revalidate(cls: type[BaseModel], data: dict, given: Any, where: dict) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(err["msg"] for err in e.errors())
        raise _error(f"the value {given!r} is not accepted: {problems}", **where) from None


def _factor(scenario: Scenario, value: Any, given: Any, where: dict) -> float:
    """A valid `caseload.scale` for `scenario`."""
    if scenario.caseload is None:
        raise _error("the scenario has no caseload to scale", **where,
                     expected="caseload.scale only on a scenario with `caseload:`")
    lo, hi = CASELOAD_SCALE
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not lo <= value <= hi:
        raise _error(f"the value {given!r} is not accepted: caseload.scale must be a number {span(CASELOAD_SCALE)}",
                     **where, expected=f"a factor {span(CASELOAD_SCALE)} for every row's filings (1: as written)")
    return float(value)


def _scaled(scenario: Scenario, factor: float, file: str) -> Any:
    """The caseload with its filings at `factor` × the file's (it holds `before` × the file's now)."""
    before = scenario.settings.get("caseload.scale", 1.0)
    if factor == before:
        return scenario.caseload
    if before == 0:
        raise _error("the caseload was scaled by 0 before, so the file's filings are gone", file=file,
                     field="caseload.scale", expected="caseload.scale set on the scenario as loaded")
    filings = scenario.caseload["filings"]
    return scenario.caseload.assign(filings=filings * factor if before == 1 else filings / before * factor)


def _recorded(scenario: Scenario) -> Scenario:
    """`scenario` with its `(settings)` input entry for what was applied (none when nothing was)."""
    inputs = {k: v for k, v in scenario.inputs.items() if k != SETTINGS_INPUT}
    applied = scenario.applied()
    if applied["variant"] is not None or applied["settings"]:
        canonical = json.dumps(applied, sort_keys=True, separators=(",", ":"))
        inputs[SETTINGS_INPUT] = hashlib.sha256(canonical.encode()).hexdigest()
    return replace(scenario, inputs=inputs)


# Settings as typed on a command line: `--set KEY=VALUE`, `--grid KEY=V1,V2`.


def _split(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise InputError(f"{option} {text!r} is not KEY=VALUE", field=option,
                         expected="e.g. policy.tolerance=0.02 (grid: policy.tolerance=0,0.02,0.05)")
    return key.strip(), value.strip()


def parse_sets(items: Iterable[str]) -> dict[str, str]:
    return dict(_split(s, "--set") for s in items)


def parse_grid(items: Iterable[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        key, values = _split(item, "--grid")
        if key in grid:
            raise InputError(f"--grid gives {key} twice", field="--grid", expected="each key in one --grid")
        grid[key] = [v.strip() for v in values.split(",")]
        if any(not v for v in grid[key]):
            raise InputError(f"--grid {item!r} has an empty value", field="--grid",
                             expected="comma-separated values, e.g. policy.tolerance=0,0.02")
    return grid
