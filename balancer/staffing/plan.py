"""`plan_staffing`: the formula's need and the optimiser's hires, and the result that carries them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.scenario import Scenario
from balancer.solver import SolverStatus, worst
from balancer.staffing import explain
from balancer.staffing.inputs import ALL, demand, groups, period_share, profiles
from balancer.staffing.model import DEFAULT_TIME_LIMIT, Hires, best_max_utilisation, min_hires

MAX_TARGET = 1.5


@dataclass
class StaffingResult:
    """What `plan_staffing` found. Tables are plain DataFrames; `summary()` is JSON-ready."""

    scenario: str
    target: float
    hours_per_hire: float
    """Hours one full-time hire brings in the period (hours_per_fte × period share)."""
    feasible: bool
    table: pd.DataFrame
    """Per office × specialisation, plus `all` totals: workload, capacity, formula need/gap, hires."""
    hires: pd.DataFrame
    """Hires per profile: office, specialisation, grade, hires (only profiles with hires > 0)."""
    findings: list[str] = field(default_factory=list)
    """Where formula and optimiser disagree, and why; or why no number of hires is enough."""
    max_utilisation_before: float = math.nan
    """Best achievable highest utilisation with the staff in post (inf: some work nobody may take)."""
    max_utilisation_after: float = math.nan
    """Best achievable highest utilisation after the hires."""
    applied: dict = field(default_factory=dict)
    """The variant and settings the scenario was loaded with (`Scenario.applied()`)."""
    solver_steps: dict[str, SolverStatus] = field(default_factory=dict)
    """The worst status over the parts of each model: `min_hires` (SOLVED: the fewest hires,
    proven at gap 0; TIME_LIMIT: hires that fit, not proven fewest in some part; INFEASIBLE:
    proven that no number fits), `grade_mix` (the cheapest grades for that many hires) and
    `max_utilisation` (the min-max LPs)."""
    parts: list[dict] = field(default_factory=list)
    """One entry per independent part: offices, hires, whether proven fewest, lower bound, time."""
    time_limit: float = DEFAULT_TIME_LIMIT
    """Seconds each solve was allowed."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step: `inputs` (demand, groups, profiles), `hires` (build and solve each
    part), `max_utilisation` (the LPs before and after), `report` (table and findings)."""

    @property
    def solver_status(self) -> SolverStatus:
        return worst(*self.solver_steps.values())

    @property
    def total_hires(self) -> int:
        return int(self.hires["hires"].sum()) if len(self.hires) else 0

    @property
    def hires_proven(self) -> bool:
        """The hires are proven the fewest in every part (False when no number fits)."""
        return self.solver_steps.get("min_hires") is SolverStatus.SOLVED

    @property
    def hires_lower_bound(self) -> int | None:
        """The fewest hires that could possibly do, as proven (= total_hires when proven)."""
        return sum(p["hires_lower_bound"] for p in self.parts) if self.feasible else None

    def total(self) -> dict:
        """The `all`/`all` row of the table as a dict."""
        row = self.table[(self.table["office"] == ALL) & (self.table["specialisation"] == ALL)]
        return row.iloc[0].to_dict()

    def summary(self) -> dict:
        t = self.total()
        return {
            "scenario": self.scenario,
            "applied": self.applied,
            "status": "done" if self.feasible else "infeasible",
            "target_utilisation": self.target,
            "hours_per_hire": self.hours_per_hire,
            "workload_hours": t["workload_hours"],
            "fte_in_post": t["fte_in_post"],
            "formula_need_fte": t["formula_need_fte"],
            "formula_gap_fte": t["formula_gap_fte"],
            "hires": self.total_hires if self.feasible else None,
            "hires_proven_fewest": self.hires_proven,
            "hires_lower_bound": self.hires_lower_bound,
            "max_utilisation_before": finite(self.max_utilisation_before),
            "max_utilisation_after": finite(self.max_utilisation_after),
            "hires_by_profile": self.hires.to_dict("records"),
            "findings": self.findings,
            "solver": {**{model: s.value for model, s in self.solver_steps.items()},
                       "status": self.solver_status.value, "name": "HiGHS (scipy.optimize.milp)",
                       "time_limit_s": self.time_limit, "parts": len(self.parts),
                       "parts_proven": sum(p["hires_proven"] for p in self.parts)},
            "parts": self.parts,
            "timings": {step: round(s, 6) for step, s in self.timings.items()},
            "method": ("formula: workload / (hours_per_fte × period share); optimiser: fewest whole "
                       "hires, then the lowest grades for that many, so that a fluid assignment keeps "
                       "everyone at or below the target, respecting specialisation, min_grade and "
                       "office; solved separately for each part that shares no work with another"),
        }


def finite(x: float):
    return None if not math.isfinite(x) else round(float(x), 6)


def plan_staffing(scenario: Scenario, target: float = 0.85, hire_grades: list[str] | None = None,
                  time_limit: float = DEFAULT_TIME_LIMIT) -> StaffingResult:
    """Formula need and optimiser hires for the scenario's `caseload`, per office and specialisation.

    `hire_grades`: grades that may be hired (default: any grade of the model). `time_limit`:
    seconds each solve may take; a part stopped there keeps hires not proven fewest."""
    _check(scenario, target, time_limit)
    clock = _Clock()
    hire_hours = scenario.model.hours_per_fte * period_share(scenario)
    work, pool, prof = demand(scenario), groups(scenario, target), profiles(scenario, hire_grades)
    by_load = groups(scenario, target, by_load=True)
    clock.lap("inputs")
    found = min_hires(work, pool, prof, target, hire_hours, time_limit=time_limit)
    feasible = found.per_profile is not None
    hires = found.per_profile if feasible else np.zeros(len(prof), dtype=int)
    clock.lap("hires")
    before = best_max_utilisation(work, by_load, prof, np.zeros(len(prof), int), hire_hours, time_limit)
    after = best_max_utilisation(work, by_load, prof, hires, hire_hours, time_limit) if feasible else math.nan
    clock.lap("max_utilisation")
    table = explain.table(scenario, work, prof.assign(hires=hires), hire_hours, target)
    findings = (explain.disagreements(scenario, table, work, target, hire_hours) + explain.above_target(scenario, target)
                if feasible else explain.why_infeasible(scenario, work, pool, prof))
    clock.lap("report")
    hired = prof.assign(hires=hires)
    out = hired[hired["hires"] > 0][["office", "specialisation", "grade", "hires"]].reset_index(drop=True)
    # anything short of a proof, a time-limited incumbent or an LP optimum has raised SolverError
    solver = {"min_hires": found.status, "grade_mix": found.grade_status,
              "max_utilisation": SolverStatus.SOLVED}
    return StaffingResult(scenario.name, target, hire_hours, feasible, table, out, findings, before, after,
                          applied=scenario.applied(), solver_steps=solver, parts=_parts(found, work),
                          time_limit=time_limit, timings=clock.laps)


class _Clock:
    """Seconds between successive `lap`s, by name."""

    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


def _check(scenario: Scenario, target: float, time_limit: float) -> None:
    if scenario.caseload is None:
        raise InputError("the scenario has no caseload", file=scenario.path, field="caseload",
                         expected="a `caseload:` list of {type, filings[, office]} rows")
    if not 0 < target <= MAX_TARGET:
        raise InputError(f"target {target} is out of range", field="target",
                         expected=f"a utilisation above 0 and at most {MAX_TARGET}")
    if not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(f"time limit {time_limit} is out of range", field="time-limit",
                         expected="a positive number of seconds")


def _parts(found: Hires, work: pd.DataFrame) -> list[dict]:
    """Each part as summary.json shows it: which offices' work it holds and what was proven."""
    out = []
    for p in found.parts:
        offices = sorted({o if o is not None else "any" for o in work["office"].iloc[p.demand]}, key=str)
        out.append({"offices": offices, "hires": None if p.hires is None else int(p.hires.sum()),
                    "hires_proven": p.status is SolverStatus.SOLVED, "hires_lower_bound": p.lower_bound,
                    "status": p.status.value, "grade_mix": p.grade_status.value,
                    "seconds": round(p.seconds, 4)})
    return out
