"""What-if sweeps (`--sweep`): the staffing answer as one parameter moves, as a table (its charts
are in the staffing report, `balancer.staffing.report`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from balancer.errors import InputError
from balancer.scenario import Scenario, apply_settings
from balancer.staffing.model import DEFAULT_TIME_LIMIT
from balancer.staffing.plan import finite, plan_staffing

MAX_SWEEP_STEPS = 200

_SWEEP = re.compile(r"^(intake|hours_per_fte|weight\.(?P<type>[^=]+))=(?P<a>[^:]+):(?P<b>[^:]+):(?P<step>[^:]+)$")
_SWEEP_FORM = "intake=A:B:STEP, weight.TYPE=A:B:STEP or hours_per_fte=A:B:STEP (e.g. intake=0.8:1.4:0.1)"


@dataclass(frozen=True)
class Sweep:
    parameter: str
    """intake, hours_per_fte or weight.TYPE"""
    values: tuple[float, ...]

    @property
    def type_id(self) -> str | None:
        return self.parameter.split(".", 1)[1] if self.parameter.startswith("weight.") else None


def parse_sweep(text: str, scenario: Scenario | None = None) -> Sweep:
    """`intake=0.8:1.4:0.1` → Sweep('intake', (0.8, 0.9, …, 1.4)); InputError for anything else."""
    m = _SWEEP.match(text.strip())
    if not m:
        raise InputError(f"--sweep {text!r} is not a sweep", field="sweep", expected=_SWEEP_FORM)
    try:
        a, b, step = (float(m[k]) for k in ("a", "b", "step"))
    except ValueError:
        raise InputError(f"--sweep {text!r}: A, B and STEP must be numbers", field="sweep",
                         expected=_SWEEP_FORM) from None
    if not all(map(math.isfinite, (a, b, step))) or step <= 0 or b < a:
        raise InputError(f"--sweep {text!r}: needs A ≤ B and STEP > 0", field="sweep", expected=_SWEEP_FORM)
    n = int(math.floor((b - a) / step + 1e-9)) + 1
    if n > MAX_SWEEP_STEPS:
        raise InputError(f"--sweep {text!r} has {n} steps", field="sweep",
                         expected=f"at most {MAX_SWEEP_STEPS} steps")
    parameter = m[1]
    if (a <= 0 if parameter != "intake" else a < 0):
        raise InputError(f"--sweep {text!r}: {parameter} must be positive", field="sweep",
                         expected="A > 0 (A ≥ 0 for intake)")
    if m["type"] is not None and scenario is not None:
        ids = [t.id for t in scenario.model.case_types]
        if m["type"] not in ids:
            raise InputError(f"--sweep {text!r}: no case type {m['type']!r}", field="sweep",
                             expected=f"weight.TYPE with TYPE one of {', '.join(ids)}")
    return Sweep(parameter, tuple(round(a + i * step, 10) for i in range(n)))


def _setting(parameter: str) -> str:
    if parameter == "intake":
        return "caseload.scale"
    if parameter == "hours_per_fte":
        return "model.hours_per_fte"
    return f"model.case_types.{parameter.split('.', 1)[1]}.weight_hours"


def with_value(scenario: Scenario, parameter: str, value: float) -> Scenario:
    """The scenario with filings scaled (intake: × value, relative to the file as written),
    hours_per_fte set, or one type's weight set; validated and recorded like any setting."""
    return apply_settings(scenario, {_setting(parameter): value})


def run_sweep(scenario: Scenario, sweep: Sweep, target: float = 0.85,
              hire_grades: list[str] | None = None, time_limit: float = DEFAULT_TIME_LIMIT) -> pd.DataFrame:
    """One row per value: formula need and gap, optimiser hires and posts, best max utilisation,
    and whether the hires are proven fewest."""
    rows = []
    for value in sweep.values:
        res = plan_staffing(with_value(scenario, sweep.parameter, value), target, hire_grades, time_limit)
        t = res.total()
        rows.append({"parameter": sweep.parameter, "value": value, "workload_hours": t["workload_hours"],
                     "fte_in_post": t["fte_in_post"], "formula_need_fte": t["formula_need_fte"],
                     "formula_gap_fte": t["formula_gap_fte"],
                     "hires": res.total_hires if res.feasible else None,
                     "optimiser_posts_fte": round(t["fte_in_post"] + res.total_hires, 4) if res.feasible else None,
                     "max_utilisation_before": finite(res.max_utilisation_before),
                     "max_utilisation_after": finite(res.max_utilisation_after),
                     "feasible": res.feasible, "hires_proven": res.hires_proven})
    return pd.DataFrame(rows)

