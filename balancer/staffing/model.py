"""The optimisation models of staffing, one per independent part, solved by SciPy's HiGHS.

Hires (`min_hires`), lexicographically, on each part:
1. minimise Σ h_j, the whole hires per profile, such that a fluid assignment of the part's
   demand fits: each demand row's hours go to eligible receivers; a group of staff in post takes
   at most its spare time at the target, a profile at most target × hire hours × h_j. The
   objective is integral, so the solver's bound closes on it at gap 0;
2. with Σ h_j fixed at that number, minimise Σ grade rank × h_j (cheaper hires first), again an
   integral objective.
A single ε-weighted objective would make the optimum non-integral, and CBC's bound then never
closes. Each solve has a time limit; a part that stops there keeps the hires it found, marked as
not proven fewest (SolverStatus.TIME_LIMIT), with the proven lower bound beside them.

`best_max_utilisation` is the min-max LP: the lowest highest utilisation a fluid assignment reaches.

Constraint matrices are built in one pass over the part's edges (scipy.sparse), never by scanning
every edge for every constraint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from balancer.solver import SolverError, SolverStatus, worst
from balancer.staffing.decompose import Edges, Part, edges, parts, positions

DEFAULT_TIME_LIMIT = 60.0
"""Seconds each solve (a part's hires, then its grade mix) may take."""


@dataclass(frozen=True)
class PartHires:
    """The answer of one part."""

    demand: np.ndarray
    """Demand rows of the part (indices into the demand table)."""
    profiles: np.ndarray
    """Profiles of the part (indices into the profile table)."""
    hires: np.ndarray | None
    """Hires per profile of the part; None when no number fits."""
    status: SolverStatus
    """SOLVED: proven fewest; TIME_LIMIT: fits, not proven fewest; INFEASIBLE: proven none fits."""
    grade_status: SolverStatus
    """The same for the cheapest grade mix with that many hires."""
    lower_bound: int
    """Fewest hires the part could possibly need, as proven (= hires when SOLVED)."""
    seconds: float


@dataclass(frozen=True)
class Hires:
    """Hires per profile over all parts (None when some part has no answer) and each part's."""

    per_profile: np.ndarray | None
    parts: list[PartHires]

    @property
    def status(self) -> SolverStatus:
        return worst(*(p.status for p in self.parts))

    @property
    def grade_status(self) -> SolverStatus:
        return worst(*(p.grade_status for p in self.parts))


def receivers(groups: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
    """Groups first, then profiles (`kind` tells them apart), as the models index them."""
    return pd.concat([groups.assign(kind="group"), profiles.assign(kind="profile")], ignore_index=True)


def min_hires(demand: pd.DataFrame, groups: pd.DataFrame, profiles: pd.DataFrame, target: float,
              hire_hours: float, fixed: dict[int, int] | None = None,
              time_limit: float = DEFAULT_TIME_LIMIT, decompose: bool = True) -> Hires:
    """Fewest hires per profile so that all demand fits at `target`, then the cheapest grades.

    `fixed`: profile → hires imposed (to check that fewer hires break the target).
    `decompose=False` solves everything as one model (to compare with the parts' answer)."""
    recv = receivers(groups, profiles)
    e = edges(demand, recv)
    found = parts(e, decompose)
    whole = _Whole(e, *positions(found, e), demand["hours"].to_numpy(float),
                   np.where(recv["kind"] == "group", recv["spare"], 0.0).astype(float),
                   recv["rank"].to_numpy()[len(groups):], len(groups), _fixed_bounds(len(profiles), fixed),
                   target * hire_hours)
    answers = [_solve_part(p, whole, time_limit) for p in found]
    if any(a.hires is None for a in answers):
        return Hires(None, answers)
    per_profile = np.zeros(len(profiles), dtype=int)
    for a in answers:
        per_profile[a.profiles] = a.hires
    free = np.isnan(whole.fixed)
    return Hires(np.where(free, per_profile, np.nan_to_num(whole.fixed)).astype(int), answers)


def _fixed_bounds(n: int, fixed: dict[int, int] | None) -> np.ndarray:
    """Hires imposed per profile; NaN where free."""
    bound = np.full(n, np.nan)
    for j, h in (fixed or {}).items():
        bound[j] = h
    return bound


@dataclass(frozen=True)
class _Whole:
    """What every part's model reads, as arrays made once for the whole problem."""

    e: Edges
    d_pos: np.ndarray
    """Position of each demand row within its part."""
    r_pos: np.ndarray
    """Position of each receiver within its part."""
    hours: np.ndarray
    """Per demand row."""
    spare: np.ndarray
    """Per receiver: a group's spare time at the target; 0 for a profile."""
    rank: np.ndarray
    """Per profile: its grade's rank (0: the lowest)."""
    n_groups: int
    """Receivers below this index are groups, the rest profiles."""
    fixed: np.ndarray
    """Per profile: hires imposed, NaN where free."""
    hire_cap: float
    """Hours one hire may take at the target."""


@dataclass(frozen=True)
class _Model:
    """A part's model: edge flows x (continuous), then hires h (integer) per profile of the part."""

    A: sp.csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    n_x: int
    profiles: np.ndarray
    """Profile index (in the profile table) of each h."""
    h_lo: np.ndarray
    h_hi: np.ndarray


def _build(p: Part, w: _Whole) -> _Model:
    """Rows: the part's demand (= hours), then its receivers (load ≤ spare, load − cap·h ≤ 0)."""
    n_d, n_r, n_x = len(p.demand), len(p.receivers), len(p.edges)
    prof = p.receivers[p.receivers >= w.n_groups]
    hours = w.hours[p.demand]
    rows = np.concatenate([w.d_pos[w.e.demand[p.edges]], n_d + w.r_pos[w.e.receiver[p.edges]], n_d + w.r_pos[prof]])
    cols = np.concatenate([np.arange(n_x), np.arange(n_x), n_x + np.arange(len(prof))])
    vals = np.concatenate([np.ones(2 * n_x), np.full(len(prof), -w.hire_cap)])
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n_d + n_r, n_x + len(prof)))
    # more hires in one profile than the part's whole demand needs are never useful
    imposed = w.fixed[prof - w.n_groups]
    h_hi = np.where(np.isnan(imposed), math.ceil(hours.sum() / w.hire_cap) + 1.0, imposed)
    return _Model(A, np.concatenate([hours, np.full(n_r, -np.inf)]), np.concatenate([hours, w.spare[p.receivers]]),
                  n_x, prof - w.n_groups, np.nan_to_num(imposed), h_hi)


def _solve_part(p: Part, w: _Whole, time_limit: float) -> PartHires:
    t0 = time.perf_counter()
    m = _build(p, w)
    n_h = len(m.profiles)
    bounds = Bounds(np.concatenate([np.zeros(m.n_x), m.h_lo]), np.concatenate([np.full(m.n_x, np.inf), m.h_hi]))
    integrality = np.concatenate([np.zeros(m.n_x), np.ones(n_h)])
    c = np.concatenate([np.zeros(m.n_x), np.ones(n_h)])
    rows = [LinearConstraint(m.A, m.lo, m.hi)]
    first = _milp(c, integrality, bounds, rows, time_limit, "hires")
    if first.status is SolverStatus.INFEASIBLE:
        return PartHires(p.demand, m.profiles, None, first.status, first.status, 0, time.perf_counter() - t0)
    hires = np.round(first.x[m.n_x:]).astype(int)
    total, ranks = int(hires.sum()), w.rank[m.profiles]
    grade = _Answer(first.x, SolverStatus.SOLVED, 0.0)
    if total and len(set(ranks.tolist())) > 1:  # several grades could fill the posts: the cheapest
        pick = np.concatenate([np.zeros(m.n_x), np.ones(n_h)])
        rows.append(LinearConstraint(sp.csr_matrix(pick), total, total))
        grade = _milp(np.concatenate([np.zeros(m.n_x), ranks]), integrality, bounds, rows, time_limit,
                      "grade mix")
        if grade.x is None:  # the hires just found fit: only numerical trouble gets here
            raise SolverError("HiGHS found no grade mix for hires it had just found")
        hires = np.round(grade.x[m.n_x:]).astype(int)
    return PartHires(p.demand, m.profiles, hires, first.status, grade.status,
                     min(total, math.ceil(first.bound - 1e-6)), time.perf_counter() - t0)


@dataclass(frozen=True)
class _Answer:
    x: np.ndarray | None
    status: SolverStatus
    bound: float
    """The solver's proven lower bound on the objective."""


def _milp(c, integrality, bounds, constraints, time_limit: float, what: str) -> _Answer:
    """One HiGHS solve at gap 0 within `time_limit`: a proven optimum, a proof of infeasibility,
    or — at the time limit — the best solution found (TIME_LIMIT). Anything else raises.
    (scipy's statuses: 0 optimal, 1 time or iteration limit, 2 infeasible, 3 unbounded, 4 other.)"""
    res = milp(c, integrality=integrality, bounds=bounds, constraints=constraints,
               options={"time_limit": float(time_limit), "mip_rel_gap": 0.0, "disp": False})
    if res.status == 0:
        return _Answer(res.x, SolverStatus.SOLVED, float(res.fun))
    if res.status == 2:
        return _Answer(None, SolverStatus.INFEASIBLE, math.inf)
    if res.status == 1 and res.x is not None:
        dual = getattr(res, "mip_dual_bound", None)
        return _Answer(res.x, SolverStatus.TIME_LIMIT, -math.inf if dual is None else float(dual))
    if res.status == 1:
        raise SolverError(f"HiGHS found no {what} that fit within the time limit of {time_limit:g} s "
                          f"on a part of the staffing model; allow more time (--time-limit)")
    raise SolverError(f"HiGHS stopped on the {what} model: {res.message}")


def best_max_utilisation(demand: pd.DataFrame, groups: pd.DataFrame, profiles: pd.DataFrame,
                         hires: np.ndarray, hire_hours: float, time_limit: float = DEFAULT_TIME_LIMIT) -> float:
    """Lowest achievable highest utilisation (fluid assignment); inf when some work has no taker.
    Part by part (the highest of the parts); the LPs always have a solution (u is free above), so
    anything but an optimum raises SolverError. `groups` must be split by load (`groups(by_load=True)`)."""
    taken = profiles.assign(capacity=hires * hire_hours, load0=0.0, spare=0.0)[hires > 0]
    recv = pd.concat([groups, taken], ignore_index=True)
    floor = float((groups["load0"] / groups["capacity"]).max()) if len(groups) else 0.0
    e = edges(demand, recv)
    if len(np.unique(e.demand)) < len(demand):
        return math.inf
    found = parts(e)
    d_pos, r_pos = positions(found, e)
    arrays = (d_pos, r_pos, demand["hours"].to_numpy(float), recv["capacity"].to_numpy(float),
              recv["load0"].to_numpy(float))
    return max([floor, *(_min_max(p, e, *arrays, time_limit) for p in found)])


def _min_max(p: Part, e: Edges, d_pos, r_pos, hours, capacity, load0, time_limit) -> float:
    """min u: each demand row's hours placed, load0 + load ≤ u · capacity for every receiver."""
    n_d, n_r, n_x = len(p.demand), len(p.receivers), len(p.edges)
    rows = np.concatenate([d_pos[e.demand[p.edges]], n_d + r_pos[e.receiver[p.edges]], n_d + np.arange(n_r)])
    cols = np.concatenate([np.arange(n_x), np.arange(n_x), np.full(n_r, n_x)])
    vals = np.concatenate([np.ones(2 * n_x), -capacity[p.receivers]])
    A = sp.csr_matrix((vals, (rows, cols)), shape=(n_d + n_r, n_x + 1))
    c = np.zeros(n_x + 1)
    c[-1] = 1.0
    answer = _milp(c, np.zeros(n_x + 1), Bounds(0, np.inf),
                   [LinearConstraint(A, np.concatenate([hours[p.demand], np.full(n_r, -np.inf)]),
                                     np.concatenate([hours[p.demand], -load0[p.receivers]]))],
                   time_limit, "highest utilisation")
    if answer.status is not SolverStatus.SOLVED:
        raise SolverError(f"HiGHS did not solve the highest-utilisation LP ({answer.status.value})")
    return float(answer.x[-1])
