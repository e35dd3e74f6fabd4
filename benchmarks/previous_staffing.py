"""The previous staffing model (one PuLP + CBC model), frozen as the baseline of `staffing_bench.py`.

This is `balancer/staffing.py` as of commit 70badf2, before the model was decomposed into parts and
moved to SciPy's HiGHS. It is kept here only so that `benchmarks/staffing_bench.py` can time the
old monolithic model (CBC at gap 0 with an ε grade tie-break, every constraint rescanning every
edge) on the same scenarios and check that both give the same number of hires; nothing in
`balancer` imports it and it is not maintained. Needs `pulp[cbc]` (the `bench` extra).

Its own docstring, as it was:

Staffing models: how many prosecutors a caseload needs, by the plain formula and by an optimiser.

The plain weighted-caseload formula (NCSC/APRI studies, PEBB§Y) is

    FTE need = Σ_type filings × weight_hours ÷ (hours_per_fte × period share),   gap = need − FTE in post.

It treats every post as able to take every case, fills posts to 100 % and ignores work already in
hand. `plan_staffing` also answers the question a reform team actually has: the fewest hires that
bring every prosecutor's utilisation at or below a target, given who may take which case.

The optimiser (PuLP + CBC, run as COIN_CMD on the binary `pulp[cbc]` installs) is a small integer
model:
- receivers are *groups* of existing staff and hire *profiles*. A group is staff of one office with
  the same eligibility row (from `problem.type_eligibility`) and the same utilisation from current
  load; with a fluid assignment such a group behaves exactly like one person of its summed capacity.
  A profile is specialisation × grade × office; profiles that could take exactly the same work are
  merged into the lowest grade;
- integer h_j ≥ 0 hires per profile, each bringing hours_per_fte × period share hours;
- continuous flows of each (type, office) workload to eligible groups and profiles (cases with an
  office go only to staff and hires of that office; cases without one may go anywhere);
- each group's load ≤ Σ max(0, target × capacity − current load) of its members, each profile's
  load ≤ target × hire hours × h_j;
- minimise Σ h_j, tie-break (worth less than one hire in total): lower grades, i.e. cheaper hires.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import cbcbox
import numpy as np
import pandas as pd
import pulp

from balancer.errors import InputError
from balancer.io import atomic_write, write_json, write_table
from balancer.problem import DAYS_PER_YEAR, staff_capacity, type_eligibility
from balancer.scenario import Scenario, apply_settings
from balancer.solver import SolverError, SolverStatus, worst

__all__ = ["StaffingResult", "Sweep", "parse_sweep", "plan_staffing", "run_sweep", "sweep_html",
           "write_staffing"]

ANY = "any"
"""Specialisation label of case types anyone may take (and of hires without a specialisation)."""
ALL = "all"
"""Label of total rows (all specialisations of an office, all offices)."""
MAX_TARGET = 1.5
MAX_SWEEP_STEPS = 200
_TOL = 1e-6


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
    """CBC's status on each model: `min_hires` (SOLVED: the fewest hires, proven with gap 0;
    INFEASIBLE: proven that no number fits) and `max_utilisation` (the min-max LPs)."""

    @property
    def solver_status(self) -> SolverStatus:
        return worst(*self.solver_steps.values())

    @property
    def total_hires(self) -> int:
        return int(self.hires["hires"].sum()) if len(self.hires) else 0

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
            "max_utilisation_before": _finite(self.max_utilisation_before),
            "max_utilisation_after": _finite(self.max_utilisation_after),
            "hires_by_profile": self.hires.to_dict("records"),
            "findings": self.findings,
            "solver": {**{model: s.value for model, s in self.solver_steps.items()},
                       "status": self.solver_status.value},
            "method": ("formula: workload / (hours_per_fte × period share); optimiser: fewest whole "
                       "hires (ties: lower grades) so that a fluid assignment keeps everyone at or "
                       "below the target, respecting specialisation, min_grade and office"),
        }


def _finite(x: float):
    return None if not math.isfinite(x) else round(float(x), 6)


# ---------------------------------------------------------------------------------------------
# Inputs: demand rows, staff groups, hire profiles
# ---------------------------------------------------------------------------------------------


def period_share(scenario: Scenario) -> float:
    """Share of a year the scenario's period covers (1 without a period), as `staff_capacity` uses."""
    return scenario.period.days / DAYS_PER_YEAR if scenario.period is not None else 1.0


def _spec(t) -> str:
    return t.specialisation if t.specialisation is not None else ANY


def _demand(scenario: Scenario) -> pd.DataFrame:
    """One row per (type, office): filings and workload hours; office None = any office."""
    load = scenario.caseload
    types = {t.id: t for t in scenario.model.case_types}
    load = load.assign(office=load["office"].astype(object).where(load["office"].notna(), None))
    rows = (load.groupby(["type", "office"], dropna=False, sort=False)["filings"].sum().reset_index())
    rows["office"] = rows["office"].astype(object).where(rows["office"].notna(), None)
    rows["t"] = rows["type"].map({t: i for i, t in enumerate(types)}).astype(int)
    rows["specialisation"] = rows["type"].map(lambda t: _spec(types[t]))
    rows["hours"] = rows["filings"] * rows["type"].map(lambda t: types[t].weight_hours)
    return rows[rows["hours"] > 0].reset_index(drop=True)


def _groups(scenario: Scenario, target: float) -> pd.DataFrame:
    """Existing staff with time in the period, aggregated into exactly-equivalent groups."""
    cap = staff_capacity(scenario)
    elig = type_eligibility(scenario, cap)
    staff = scenario.staff
    keep = cap > 0
    df = pd.DataFrame({
        "office": staff["office"].astype(object).where(staff["office"].notna(), None),
        "elig": [elig[:, p].tobytes() for p in range(len(staff))],
        "ratio": np.round(staff["current_load_hours"].to_numpy(float) / np.where(keep, cap, 1), 9),
        "capacity": cap,
        "load0": staff["current_load_hours"].to_numpy(float),
        "spare": np.maximum(0.0, target * cap - staff["current_load_hours"].to_numpy(float)),
        "id": staff["id"].astype(str),
    })[keep]
    g = df.groupby(["office", "elig", "ratio"], dropna=False, sort=False).agg(
        capacity=("capacity", "sum"), load0=("load0", "sum"), spare=("spare", "sum"),
        members=("id", list)).reset_index()
    g["office"] = g["office"].astype(object).where(g["office"].notna(), None)
    g["eligible"] = [np.frombuffer(b, dtype=bool) for b in g["elig"]]
    return g.drop(columns="elig")


def _offices(scenario: Scenario) -> list:
    offices = set(scenario.staff["office"].dropna()) | set(scenario.caseload["office"].dropna())
    return sorted(offices) or [None]


def _profiles(scenario: Scenario, grades: list[str] | None) -> pd.DataFrame:
    """Hire profiles (specialisation × grade × office) that take distinct work; lowest grade kept."""
    model = scenario.model
    specs = [None] + sorted({t.specialisation for t in model.case_types if t.specialisation is not None})
    ladder = model.grades or [None]
    unknown = [g for g in grades or [] if g not in ladder]
    if unknown:
        raise InputError(f"--hire-grade {', '.join(unknown)} is not a grade of the model",
                         field="hire-grade", expected=f"one of {', '.join(map(str, ladder))}")
    allowed = [g for g in ladder if grades is None or g in grades]
    rows = [(s, g, o) for o, s, g in itertools.product(_offices(scenario), specs, allowed)]
    staff = pd.DataFrame({"specialisations": [(s,) if s else () for s, _, _ in rows],
                          "grade": [g for _, g, _ in rows]})
    elig = type_eligibility(replace(scenario, staff=staff), np.ones(len(rows)))
    rank = {g: i for i, g in enumerate(ladder)}
    prof = pd.DataFrame({"specialisation": [s or ANY for s, _, _ in rows], "grade": [g for _, g, _ in rows],
                         "office": [o for _, _, o in rows], "rank": [rank[g] for _, g, _ in rows],
                         "elig": [elig[:, j].tobytes() for j in range(len(rows))]})
    prof = prof[[elig[:, j].any() for j in range(len(rows))]]
    prof = prof.sort_values("rank", kind="stable").drop_duplicates(["office", "elig"]).sort_index()
    prof["eligible"] = [np.frombuffer(b, dtype=bool) for b in prof["elig"]]
    return prof.drop(columns="elig").reset_index(drop=True)


def _can_take(demand_row, office, eligible) -> bool:
    return bool(eligible[demand_row.t]) and (demand_row.office is None or demand_row.office == office)


# ---------------------------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------------------------


def _solve(prob: pulp.LpProblem) -> SolverStatus:
    """SOLVED (proven optimal, gap 0) or INFEASIBLE (proven to have no solution). Anything else —
    stopped, unbounded, undefined, a solution not proven optimal — raises SolverError rather than
    pass for either."""
    prob.solve(pulp.COIN_CMD(msg=False, gapRel=0, path=_cbc()))
    if prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal:
        return SolverStatus.SOLVED
    if prob.status == pulp.LpStatusInfeasible:
        return SolverStatus.INFEASIBLE
    raise _stopped(prob)


@functools.cache
def _cbc() -> str:
    """The CBC binary `pulp[cbc]` installs (cbcbox), by its own path: COIN_CMD would look for `cbc`
    on PATH, which has it only in an activated virtual environment (and there as a Python shim)."""
    return cbcbox.cbc_bin_path()


def _stopped(prob: pulp.LpProblem) -> SolverError:
    return SolverError(f"CBC stopped on the {prob.name} model with status {pulp.LpStatus[prob.status]} "
                       f"({pulp.LpSolution[prob.sol_status]})")


def _edges(prob: pulp.LpProblem, demand, receivers) -> dict:
    """(demand row, receiver) → flow variable, for every eligible pair."""
    return {(i, k): prob.add_variable(f"x_{i}_{k}", lowBound=0)
            for i, d in enumerate(demand.itertuples()) for k, r in enumerate(receivers.itertuples())
            if _can_take(d, r.office, r.eligible)}


def min_hires(demand: pd.DataFrame, groups: pd.DataFrame, profiles: pd.DataFrame, target: float,
              hire_hours: float, fixed: dict[int, int] | None = None) -> np.ndarray | None:
    """Fewest hires per profile so that all demand fits at `target`; None when CBC proves that no
    number fits (anything short of a proof either way raises SolverError).

    `fixed`: profile → hires imposed (to check that fewer hires break the target)."""
    receivers = pd.concat([groups.assign(kind="group"), profiles.assign(kind="profile")], ignore_index=True)
    prob = pulp.LpProblem("min_hires", pulp.LpMinimize)
    x = _edges(prob, demand, receivers)
    h = {k: prob.add_variable(f"h_{k}", lowBound=0, cat="Integer") for k in range(len(groups), len(receivers))}
    ub = sum(math.ceil(v / (target * hire_hours)) for v in demand["hours"]) + 1
    eps = 0.5 / (1 + ub * max(1, int(profiles["rank"].max()) if len(profiles) else 1))
    prob += pulp.lpSum(h.values()) + eps * pulp.lpSum(
        int(receivers.at[k, "rank"]) * v for k, v in h.items())
    for i, hours in enumerate(demand["hours"]):
        prob += pulp.lpSum(v for (r, _), v in x.items() if r == i) == hours
    for k, rec in enumerate(receivers.itertuples()):
        load = pulp.lpSum(v for (_, kk), v in x.items() if kk == k)
        prob += load <= (rec.spare if rec.kind == "group" else target * hire_hours * h[k])
    for j, n in (fixed or {}).items():
        prob += h[len(groups) + j] == n
    if _solve(prob) is SolverStatus.INFEASIBLE:
        return None
    return np.array([round(h[k].value() or 0) for k in sorted(h)], dtype=int)


def best_max_utilisation(demand, groups, profiles, hires, hire_hours) -> float:
    """Lowest achievable highest utilisation (fluid assignment); inf when some work has no taker.
    The LP always has a solution (u is free above): anything but an optimum raises SolverError."""
    profiles = profiles.assign(capacity=hires * hire_hours, load0=0.0)[hires > 0]
    receivers = pd.concat([groups, profiles], ignore_index=True)
    prob = pulp.LpProblem("min_max_utilisation", pulp.LpMinimize)
    x = _edges(prob, demand, receivers)
    floor = float((groups["load0"] / groups["capacity"]).max()) if len(groups) else 0.0
    if len(demand) == 0:
        return floor
    if {i for i, _ in x} != set(range(len(demand))):
        return math.inf
    u = prob.add_variable("u", lowBound=0)
    prob += u
    for i, hours in enumerate(demand["hours"]):
        prob += pulp.lpSum(v for (r, _), v in x.items() if r == i) == hours
    for k, rec in enumerate(receivers.itertuples()):
        prob += rec.load0 + pulp.lpSum(v for (_, kk), v in x.items() if kk == k) <= u * rec.capacity
    if _solve(prob) is not SolverStatus.SOLVED:
        raise _stopped(prob)
    return max(float(u.value()), floor)


# ---------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------


def plan_staffing(scenario: Scenario, target: float = 0.85, hire_grades: list[str] | None = None
                  ) -> StaffingResult:
    """Formula need and optimiser hires for the scenario's `caseload`, per office and specialisation.

    `hire_grades`: grades that may be hired (default: any grade of the model)."""
    if scenario.caseload is None:
        raise InputError("the scenario has no caseload", file=scenario.path, field="caseload",
                         expected="a `caseload:` list of {type, filings[, office]} rows")
    if not 0 < target <= MAX_TARGET:
        raise InputError(f"target {target} is out of range", field="target",
                         expected=f"a utilisation above 0 and at most {MAX_TARGET}")
    hire_hours = scenario.model.hours_per_fte * period_share(scenario)
    demand, groups = _demand(scenario), _groups(scenario, target)
    profiles = _profiles(scenario, hire_grades)
    hires = min_hires(demand, groups, profiles, target, hire_hours)
    feasible = hires is not None
    findings = [] if feasible else _why_infeasible(scenario, demand, groups, profiles)
    hires = hires if feasible else np.zeros(len(profiles), dtype=int)
    hired = profiles.assign(hires=hires)
    before = best_max_utilisation(demand, groups, profiles, np.zeros(len(profiles), int), hire_hours)
    after = best_max_utilisation(demand, groups, profiles, hires, hire_hours) if feasible else math.nan
    table = _table(scenario, demand, hired, hire_hours, target)
    if feasible:
        findings = _disagreements(scenario, table, demand, target, hire_hours) + _above_target(scenario, target)
    out = hired[hired["hires"] > 0][["office", "specialisation", "grade", "hires"]].reset_index(drop=True)
    # min_hires returns hires only when proven fewest, None only when proven infeasible, and
    # best_max_utilisation only optima: any other answer of CBC has raised by now
    solver = {"min_hires": SolverStatus.SOLVED if feasible else SolverStatus.INFEASIBLE,
              "max_utilisation": SolverStatus.SOLVED}
    return StaffingResult(scenario.name, target, hire_hours, feasible, table, out, findings, before, after,
                          applied=scenario.applied(), solver_steps=solver)


def _why_infeasible(scenario, demand, groups, profiles) -> list[str]:
    """Work no allowed hire could take and the staff in post cannot absorb at the target."""
    msgs = []
    types = {t.id: t for t in scenario.model.case_types}
    for d in demand.itertuples():
        if any(_can_take(d, r.office, r.eligible) for r in profiles.itertuples()):
            continue
        takers = [r for r in groups.itertuples() if _can_take(d, r.office, r.eligible)]
        spare = sum(r.spare for r in takers)
        if spare + _TOL >= d.hours:
            continue
        t = types[d.type]
        needs = " and ".join(filter(None, [t.specialisation and f"specialisation {t.specialisation}",
                                           t.min_grade and f"grade {t.min_grade} or above"]))
        where = f" in office {d.office}" if d.office else ""
        msgs.append(f"{d.type}{where}: needs {needs or 'a prosecutor'}; no hire allowed could take it, "
                    f"and the {sum(len(r.members) for r in takers)} in post who may have {spare:,.0f} h "
                    f"spare at the target for {d.hours:,.0f} h of work")
    return msgs or ["no number of hires keeps everyone at or below the target (several types compete "
                    "for the same staff in post that no allowed hire can relieve)"]


def _table(scenario, demand, hired, hire_hours, target) -> pd.DataFrame:
    """Rows per (office, specialisation), each office's `all` row, and the overall `all`/`all` row."""
    cap = staff_capacity(scenario)
    staff = scenario.staff.assign(capacity=cap, office=scenario.staff["office"].fillna(ALL))
    staff = staff[cap > 0]
    dem = demand.assign(office=demand["office"].fillna(ALL))
    hired = hired.assign(office=hired["office"].fillna(ALL))
    offices = sorted(set(dem["office"]) | set(staff["office"])) if len(dem) or len(staff) else [ALL]
    specs = sorted(set(dem["specialisation"]))
    specs = [] if specs == [ANY] else specs  # only unrestricted work: the `all` rows say it all
    rows = []
    for office in offices + ([] if offices == [ALL] else [ALL]):
        in_office = staff if office == ALL else staff[staff["office"] == office]
        d_off = dem if office == ALL else dem[dem["office"] == office]
        h_off = hired if office == ALL else hired[hired["office"] == office]
        for spec in specs + [ALL]:
            holders = in_office if spec in (ANY, ALL) else in_office[
                in_office["specialisations"].map(lambda s, spec=spec: spec in s)]
            d = d_off if spec == ALL else d_off[d_off["specialisation"] == spec]
            h = h_off if spec == ALL else h_off[h_off["specialisation"] == spec]
            if spec != ALL and d.empty and h["hires"].sum() == 0:
                continue
            rows.append(_row(office, spec, d, holders, h, hire_hours))
    return pd.DataFrame(rows)


def _row(office, spec, d, holders, h, hire_hours) -> dict:
    workload = float(d["hours"].sum())
    in_post = float(holders["capacity"].sum()) / hire_hours
    need = workload / hire_hours
    by_grade = h[h["hires"] > 0].groupby(h["grade"].fillna(""), sort=False)["hires"].sum()
    grades = ", ".join(f"{int(n)} {g}".strip() for g, n in by_grade.items())
    return {"office": office, "specialisation": spec, "filings": float(d["filings"].sum()),
            "workload_hours": round(workload, 4), "staff": len(holders),
            "fte_in_post": round(in_post, 4), "capacity_hours": round(float(holders["capacity"].sum()), 4),
            "current_load_hours": round(float(holders["current_load_hours"].sum()), 4),
            "available_hours": round(float((holders["capacity"] - holders["current_load_hours"]).sum()), 4),
            "formula_need_fte": round(need, 4), "formula_gap_fte": round(need - in_post, 4),
            "hires": int(h["hires"].sum()), "hires_by_grade": grades}


# ---------------------------------------------------------------------------------------------
# Formula versus optimiser
# ---------------------------------------------------------------------------------------------


def _disagreements(scenario, table, demand, target, hire_hours) -> list[str]:
    """One sentence per row where whole-post formula hires (⌈gap⌉) differ from the optimiser's."""
    out = []
    for r in table.itertuples():
        formula = max(0, math.ceil(r.formula_gap_fte - _TOL))
        if formula == r.hires:
            continue
        gap = r.formula_gap_fte
        says = f"formula says {gap:.2f} FTE short" if gap > 0 else f"formula says {-gap:.2f} FTE spare"
        reasons = _reasons(scenario, table, r, demand, target, hire_hours)
        out.append(f"{_where(r)}: {says}; the optimiser hires {r.hires} ({'; '.join(reasons)})")
    return out


def _where(r) -> str:
    if r.office == ALL:
        return "overall" if r.specialisation == ALL else r.specialisation
    return f"{r.office}" if r.specialisation == ALL else f"{r.office}/{r.specialisation}"


def _reasons(scenario, table, r, demand, target, hire_hours) -> list[str]:
    reasons = []
    spec_types = [t for t in scenario.model.case_types if _spec(t) == r.specialisation]
    graded = [t for t in spec_types if t.min_grade is not None]
    if r.hires > max(0, math.ceil(r.formula_gap_fte - _TOL)):
        restricted = graded or [t for t in spec_types if t.specialisation is not None]
        if restricted:
            reasons.append(_eligibility_reason(scenario, r.office, restricted[0]))
        if r.current_load_hours > 0:
            reasons.append(f"staff in post already carry {r.current_load_hours:,.0f} h of current load "
                           f"({r.current_load_hours / hire_hours:.2f} FTE) the formula leaves out")
        if target < 1:
            reasons.append(f"the formula fills posts to 100 %, the target stops at {target:.0%} "
                           f"(need at target {r.formula_need_fte / target:.2f} FTE)")
        if r.office == ALL and r.specialisation == ALL and _idle_office(table):
            reasons.append("spare time in one office cannot take another office's cases")
        specialist = (demand["specialisation"] != ANY) & (
            True if r.office == ALL else demand["office"].fillna(ALL) == r.office)
        if r.specialisation in (ALL, ANY) and specialist.any():
            reasons.append("specialist work can only go to specialists, so their share of the posts "
                           "is not free for it")
        reasons.append("hires are whole posts")
    else:
        if r.specialisation == ANY:
            reasons.append("specialists' spare time and specialist hires also take these cases")
        elif r.specialisation != ALL:
            reasons.append(f"{r.specialisation} specialists do not need to be hired as such: "
                           "generalists free their time by taking their other cases")
        else:
            reasons.append("formula gaps of separate offices or lines do not add up to whole posts")
    return reasons


def _eligibility_reason(scenario, office, t) -> str:
    tight = _eligible_staff(scenario, office, t)
    grade = f"{t.min_grade}s or above" if t.min_grade else "prosecutors"
    spec = f" with {t.specialisation}" if t.specialisation else ""
    util = tight["load0"].sum() / tight["capacity"].sum() if len(tight) else math.nan
    state = f"there are {len(tight)}, at {util:.0%} from current load" if len(tight) else "there are none in post"
    return f"eligibility: only {grade}{spec} may take {t.id}; {state}"


def _idle_office(table) -> bool:
    """Some office has formula spare time while another needs hires."""
    offices = table[(table["office"] != ALL) & (table["specialisation"] == ALL)]
    return bool(((offices["formula_gap_fte"] < 0) & (offices["hires"] == 0)).any() and offices["hires"].any())


def _above_target(scenario, target) -> list[str]:
    """Staff whose current load alone is above the target: no hire can bring them below it."""
    cap = staff_capacity(scenario)
    load = scenario.staff["current_load_hours"].to_numpy(float)
    over = np.flatnonzero((cap > 0) & (load > target * cap + _TOL))
    return [f"{scenario.staff['id'].iat[p]} is at {load[p] / cap[p]:.0%} from current load alone, above the "
            f"{target:.0%} target: hires take new cases off them, but only moving work in hand lowers it"
            for p in over]


def _eligible_staff(scenario, office, case_type) -> pd.DataFrame:
    cap = staff_capacity(scenario)
    row = type_eligibility(scenario, cap)[[t.id for t in scenario.model.case_types].index(case_type.id)]
    staff = scenario.staff.assign(capacity=cap, load0=scenario.staff["current_load_hours"])[row]
    return staff if office == ALL else staff[staff["office"] == office]


# ---------------------------------------------------------------------------------------------
# What-if sweeps
# ---------------------------------------------------------------------------------------------

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
              hire_grades: list[str] | None = None) -> pd.DataFrame:
    """One row per value: formula need and gap, optimiser hires and posts, best max utilisation."""
    rows = []
    for value in sweep.values:
        res = plan_staffing(with_value(scenario, sweep.parameter, value), target, hire_grades)
        t = res.total()
        rows.append({"parameter": sweep.parameter, "value": value, "workload_hours": t["workload_hours"],
                     "fte_in_post": t["fte_in_post"], "formula_need_fte": t["formula_need_fte"],
                     "formula_gap_fte": t["formula_gap_fte"],
                     "hires": res.total_hires if res.feasible else None,
                     "optimiser_posts_fte": round(t["fte_in_post"] + res.total_hires, 4) if res.feasible else None,
                     "max_utilisation_before": _finite(res.max_utilisation_before),
                     "max_utilisation_after": _finite(res.max_utilisation_after),
                     "feasible": res.feasible})
    return pd.DataFrame(rows)


def sweep_html(table: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page with an inline SVG line chart of FTE against the swept value."""
    w, h, pad = 640, 360, 56
    x = table["value"].astype(float).to_numpy()
    series = [("formula need (FTE)", table["formula_need_fte"], "#1f77b4"),
              ("in post + optimiser hires (FTE)", table["optimiser_posts_fte"], "#d62728"),
              ("in post (FTE)", table["fte_in_post"], "#7f7f7f")]
    ys = np.concatenate([pd.to_numeric(s, errors="coerce").to_numpy(float) for _, s, _ in series])
    y_lo, y_hi = 0.0, float(np.nanmax(ys)) * 1.1 or 1.0
    x_lo, x_hi = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1
    px = lambda v: pad + (v - x_lo) / (x_hi - x_lo) * (w - 2 * pad)  # noqa: E731
    py = lambda v: h - pad - (v - y_lo) / (y_hi - y_lo) * (h - 2 * pad)  # noqa: E731
    parts = [f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>']
    for v in x:
        parts.append(f'<text x="{px(v):.1f}" y="{h - pad + 16}" font-size="10" text-anchor="middle">{v:g}</text>')
    for v in np.linspace(y_lo, y_hi, 5):
        parts.append(f'<text x="{pad - 6}" y="{py(v) + 3:.1f}" font-size="10" text-anchor="end">{v:.1f}</text>')
    for i, (label, s, colour) in enumerate(series):
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, pd.to_numeric(s, errors="coerce"))
                       if pd.notna(b))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{pad + 8}" y="{pad - 30 + 12 * i}" font-size="11" fill="{colour}">{label}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 12}" font-size="12" text-anchor="middle">'
                 f'{table["parameter"].iat[0]}</text>')
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">{"".join(parts)}</svg>'
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1>{svg}</body></html>\n")


# ---------------------------------------------------------------------------------------------
# Output files
# ---------------------------------------------------------------------------------------------


def write_staffing(result: StaffingResult, out: Path, sweep: pd.DataFrame | None = None) -> list[Path]:
    """staffing.csv, sweep.csv and sweep.html (with a sweep), then summary.json (last)."""
    out = Path(out)
    write_table(result.table, out / "staffing.csv")
    written = [out / "staffing.csv"]
    if sweep is not None:
        write_table(sweep, out / "sweep.csv")
        html = sweep_html(sweep, f"{result.scenario}: FTE against {sweep['parameter'].iat[0]}")
        atomic_write(out / "sweep.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
        written += [out / "sweep.csv", out / "sweep.html"]
    write_json(result.summary(), out / "summary.json")
    return written + [out / "summary.json"]
