"""Integral limit: how well can whole items be balanced, with a proven bracket.

The leximin balance is fractional. A draw hands out whole items, so it is judged against the best
assignment of whole items (on classes: an integer count y_kp per class × prosecutor edge with
Σ_p y_kp = n_k, and the pooled rows A y ≤ rhs). Three sources bracket that optimum:

* greedy rounding of the fluid flow (always; vectorised except for the few fractional remainders)
  gives achievable assignments: the upper bound;
* the LP bound and a gcd argument over the leximin level sets give proven lower bounds;
* a MIP on classes (scipy's HiGHS, small problems only) closes or narrows the gap.

Utilisations are fractions (1.0 = 100 %); staff with capacity 0 have no edges and are ignored.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from balancer.balance import Balance
from balancer.problem import Problem, pooled_rows

EXACT_TOL = 1e-6
"""`upper − lower` at or below this counts as proven optimal (utilisation fraction)."""

ROUND_TOL = 1e-6
"""Fluid item counts within this of an integer are taken as that integer (solver round-off)."""

WEIGHT_UNIT = 1e-6
"""Hours are integers in this unit for the gcd argument (a weight of 3.5 h is 3,500,000 units)."""

MIP_NODES = 100
"""Branch-and-bound nodes each MIP may explore. A work limit, not a time limit: the limit feeds the
lottery's design, so it must come out the same on a busy machine as on an idle one, or a seeded
draw would not replay (about 0.1–0.4 s on the shipped scenarios)."""

MIP_EDGES = 20_000
"""The integral limit runs its MIPs only on problems with at most this many edges."""

DAY_MIP_EDGES = 2_000
"""An intake day's integral limit runs its MIPs only up to this many edges (a run's: `MIP_EDGES`). A
day's draw is balanced again the next day, and at 15,000 edges against uneven held loads the two
MIPs took 7 of a day's 10 s; the greedy bracket still bounds the day's draw."""

MAX_LEVELS = 200
"""Level sets tried for the gcd lower bound, from the top; more only cost time."""


@dataclass(frozen=True)
class IntegralLimit:
    """The best max utilisation of whole items, bracketed; all values are fractions (1.0 = 100 %)."""

    lp_bound: float
    """Best max utilisation of any fractional assignment: the leximin top level, recomputed from
    the data of its level set (so the QP solver's round-off does not leak into a bound; it equals
    the max target utilisation up to that round-off). No assignment does better."""
    upper: float
    """Max utilisation of the best whole-item assignment found: achievable (inf only if none was
    found: every greedy blocked by pooled rows and no MIP run)."""
    lower: float
    """Proven lower bound on the best whole-item max utilisation (≥ lp_bound)."""
    above_target: float
    """Achievable D*: max_p (u_p − t_p) of a whole-item assignment (may differ from `upper`'s)."""
    above_target_lower: float
    """Proven lower bound on D* = min over whole-item assignments of max_p (u_p − t_p)."""
    method: str
    """"mip" when a MIP proved `upper` optimal, "greedy+mip" when a MIP improved it without proof,
    else "greedy" (also when the lower bound alone proves the greedy optimal)."""

    @property
    def exact(self) -> bool:
        """The bracket is closed: `upper` is the integral optimum."""
        return self.upper - self.lower <= EXACT_TOL

    def to_dict(self) -> dict:
        """Plain floats (and the method) for summary.json."""
        out = {k: (v if isinstance(v, str) else float(v)) for k, v in asdict(self).items()}
        out["exact"] = self.exact
        return out


def integral_limit(problem: Problem, balance: Balance, *, mip_nodes: int = MIP_NODES,
                   mip_max_edges: int = MIP_EDGES) -> IntegralLimit:
    """Bracket the best whole-item max utilisation and D* (see the module docstring).

    MIPs run only when the problem has at most `mip_max_edges` edges and the greedy is not already
    proven optimal: first on the max utilisation, then on D*, each within `mip_nodes` nodes (so the
    result never depends on how busy the machine is).
    """
    t = balance.target_utilisation
    has_time = problem.capacity > 0
    base = float((problem.base_load[has_time] / problem.capacity[has_time]).max()) if has_time.any() else 0.0
    if problem.n_edges == 0:  # nothing to hand out: the base loads are the answer
        return IntegralLimit(base, base, base, 0.0, 0.0, "greedy")
    lp, lower, d_lower = level_set_bounds(problem, t)
    lp = max(lp, base)  # nobody gets below their base load
    lower = max(lower, lp)
    upper, d_upper = math.inf, math.inf
    for criterion, enough in (("target", d_lower), ("utilisation", lower)):
        y = greedy_rounding(problem, balance, criterion=criterion, good_enough=enough)
        if y is not None:
            u, d = assignment_scores(problem, balance, y)
            upper, d_upper = min(upper, u), min(d_upper, d)
    method = "greedy"
    if problem.n_edges <= mip_max_edges and upper - lower > EXACT_TOL:
        found, bound = _mip(problem, None, lower, upper, mip_nodes)
        if found < upper - EXACT_TOL:
            method = "greedy+mip"
        upper, lower = min(upper, found), max(lower, bound)
        if upper - lower <= EXACT_TOL:
            method = "mip"
    if problem.n_edges <= mip_max_edges and d_upper - d_lower > EXACT_TOL:
        found, bound = _mip(problem, t, d_lower, d_upper, mip_nodes)
        d_upper, d_lower = min(d_upper, found), max(d_lower, bound)
    d_upper = max(d_upper, 0.0)  # below 0 only by round-off in the targets (D* ≥ 0, see level_set_bounds)
    return IntegralLimit(lp_bound=lp, upper=upper, lower=min(lower, upper), above_target=d_upper,
                         above_target_lower=min(d_lower, d_upper), method=method)


# --- greedy rounding -------------------------------------------------------------------------


def greedy_rounding(problem: Problem, balance: Balance, *, criterion: str = "target", moves: int = 2_000,
                    good_enough: float = -math.inf) -> np.ndarray | None:
    """(E,) whole items per edge: the fluid counts rounded down, the remainders handed out, then
    up to `moves` single-item moves off the worst prosecutor (see `_descend`; it stops once the
    worst is at `good_enough`, e.g. a proven lower bound).

    Each class's remainder r_k = n_k − Σ_p ⌊f_kp⌋ is handed out one item at a time, heaviest
    class first (a heavy item placed late would spoil the balance most), each to the eligible
    prosecutor who ends lowest: lowest u_p − t_p after the item (`criterion="target"`, keeps D*
    small) or lowest u_p (`"utilisation"`), ties by the other. An edge that would break a pooled
    row is skipped; should every edge of a class be blocked (never seen: pooled rows have slack
    by construction) the result is None rather than an invalid assignment.
    """
    y = _floored_counts(problem, balance)
    remainder = problem.class_count - np.bincount(problem.edge_class, weights=y, minlength=problem.n_classes)
    remainder = np.rint(remainder).astype(np.int64)
    if np.any(remainder < 0):  # only a broken flow (more than n_k items in a class) gets here
        return None
    a, t = problem.capacity, balance.target_utilisation
    load = problem.base_load + np.bincount(problem.edge_staff, weights=problem.class_weight[problem.edge_class] * y,
                                           minlength=problem.n_staff)
    rows = _RowGuard(problem, y)
    load = load.tolist()  # updated one item at a time below
    order = np.lexsort((problem.class_degree, -problem.class_weight))
    for k in order[remainder[order] > 0]:
        if not _hand_out(problem, k, int(remainder[k]), y, load, a, t, rows, criterion == "target"):
            return None
    c = np.nan_to_num(t) if criterion == "target" else np.zeros(problem.n_staff)
    _descend(problem, y, np.asarray(load), c, rows, moves, good_enough)
    return y


def _floored_counts(problem: Problem, balance: Balance) -> np.ndarray:
    """⌊f⌋ per edge, f = fluid items, with counts a hair below an integer taken as that integer.

    Σ_p ⌊f_kp⌋ ≤ n_k holds for the plain floor; the tolerant one can only break it (or a pooled
    row) by solver round-off piling up, and where it would, the plain floor is kept."""
    f = balance.flow / problem.class_weight[problem.edge_class]
    y = np.floor(f + ROUND_TOL)
    plain = np.floor(np.maximum(f, 0.0))
    over = np.bincount(problem.edge_class, weights=y, minlength=problem.n_classes) > problem.class_count
    y[over[problem.edge_class]] = plain[over[problem.edge_class]]
    pooled, rhs = pooled_rows(problem)
    if pooled.shape[0]:
        broken = pooled @ y > rhs + 0.5
        touched = np.asarray(pooled[broken].sum(axis=0)).ravel() > 0
        y[touched] = plain[touched]  # A ⌊f⌋ ≤ A f ≤ rhs, and rhs is an integer
    return np.maximum(y, 0.0)


def _hand_out(problem, k, count, y, load, a, t, rows, by_target: bool) -> bool:
    """Give `count` items of class k, one by one, to whoever ends lowest; update y and load."""
    lo, hi = int(problem.class_edge_start[k]), int(problem.class_edge_start[k + 1])
    staff = problem.edge_staff[lo:hi]
    w = float(problem.class_weight[k])
    after = (np.asarray(load)[staff] + w) / a[staff]
    first, second = (after - t[staff], after) if by_target else (after, after - t[staff])
    # Nobody outside the best count + (edges a pooled row may block) can be reached before them:
    # each of those is popped first, and all but the blocked ones take an item.
    ranked = np.lexsort((second, first))[: count + rows.edges_with_rows(lo, hi)]
    heap = list(zip(first[ranked].tolist(), second[ranked].tolist(), ranked.tolist()))
    heapq.heapify(heap)
    a_k, t_k, staff_k = a[staff].tolist(), t[staff].tolist(), staff.tolist()
    while count:
        if not heap:
            return False
        i = heapq.heappop(heap)[2]
        if not rows.take(lo + i):
            continue
        y[lo + i] += 1
        p = staff_k[i]
        load[p] += w
        u = (load[p] + w) / a_k[i]
        heapq.heappush(heap, (u - t_k[i], u, i) if by_target else (u, u - t_k[i], i))
        count -= 1
    return True


def _descend(problem, y, load, c, rows, moves: int, good_enough: float) -> None:
    """Local search on max_p (u_p − c_p): move one item off the worst prosecutor to the eligible
    one who ends lowest, while that one stays below the old worst. Each move lowers the sorted
    score vector lexicographically, so it ends; it stops at a local optimum (single moves only)."""
    a = problem.capacity
    has_time = a > 0
    score = np.full(problem.n_staff, -np.inf)
    score[has_time] = load[has_time] / a[has_time] - c[has_time]
    by_staff = np.argsort(problem.edge_staff, kind="stable")
    staff_start = np.searchsorted(problem.edge_staff[by_staff], np.arange(problem.n_staff + 1))
    for _ in range(moves):
        p = int(np.argmax(score))
        worst = score[p]
        if worst <= good_enough + EXACT_TOL:
            return
        move = _best_move(problem, y, score, a, rows, p, by_staff[staff_start[p]:staff_start[p + 1]])
        if move is None:
            return
        src, dst, q, w = move
        y[src] -= 1
        y[dst] += 1
        rows.release(src)
        rows.take(dst)
        score[p] -= w / a[p]
        score[q] += w / a[q]


def _best_move(problem, y, score, a, rows, p, edges):
    """(from edge, to edge, to staff, weight) of the single move that leaves the lowest
    max(worst after, receiver after), the receiver strictly below the current worst; or None."""
    worst, best = score[p], None
    for e in edges[y[edges] > 0]:
        k = problem.edge_class[e]
        lo, hi = problem.class_edge_start[k], problem.class_edge_start[k + 1]
        w = problem.class_weight[k]
        after = score[problem.edge_staff[lo:hi]] + w / a[problem.edge_staff[lo:hi]]
        after[e - lo] = np.inf
        for i in np.argsort(after)[:8]:  # the few best; a pooled row rarely blocks one
            value = max(after[i], worst - w / a[p])
            if after[i] >= worst - 1e-12 or (best is not None and value >= best[0]):
                break
            if rows.can_take(lo + i):
                best = (value, int(e), int(lo + i), int(problem.edge_staff[lo + i]), float(w))
                break
    return None if best is None else best[1:]


class _RowGuard:
    """Keeps the pooled rows A y ≤ rhs while the greedy adds items (plain Python: one item at a
    time, and most edges are in no row)."""

    def __init__(self, problem: Problem, y: np.ndarray) -> None:
        pooled, rhs = pooled_rows(problem)
        by_edge = pooled.tocsc()
        self.slack = np.rint(rhs - pooled @ y).astype(np.int64).tolist()
        self.count = np.diff(by_edge.indptr)
        self.start, self.row = by_edge.indptr.tolist(), by_edge.indices.tolist()

    def edges_with_rows(self, lo: int, hi: int) -> int:
        return int(np.count_nonzero(self.count[lo:hi]))

    def can_take(self, e: int) -> bool:
        """Every row through edge e has room for one more item."""
        return all(self.slack[r] >= 1 for r in self.row[self.start[e]:self.start[e + 1]])

    def take(self, e: int) -> bool:
        """Count one more item on edge e if every row through it has room; say whether it had."""
        if self.start[e] == self.start[e + 1]:
            return True
        if not self.can_take(e):
            return False
        for r in self.row[self.start[e]:self.start[e + 1]]:
            self.slack[r] -= 1
        return True

    def release(self, e: int) -> None:
        """One item fewer on edge e."""
        for r in self.row[self.start[e]:self.start[e + 1]]:
            self.slack[r] += 1


def assignment_scores(problem: Problem, balance: Balance, y: np.ndarray) -> tuple[float, float]:
    """(max u_p, max (u_p − t_p)) of whole items y per edge, over staff with capacity."""
    hours = np.bincount(problem.edge_staff, weights=problem.class_weight[problem.edge_class] * y,
                        minlength=problem.n_staff)
    has_time = problem.capacity > 0
    u = (problem.base_load + hours)[has_time] / problem.capacity[has_time]
    return float(u.max()), float((u - balance.target_utilisation[has_time]).max())


def is_assignment(problem: Problem, y: np.ndarray) -> bool:
    """y is a whole-item assignment: non-negative integers, each class complete, pooled rows kept."""
    if len(y) != problem.n_edges or np.any(y < 0) or np.any(y != np.rint(y)):
        return False
    per_class = np.bincount(problem.edge_class, weights=y, minlength=problem.n_classes)
    pooled, rhs = pooled_rows(problem)
    return bool(np.array_equal(per_class, problem.class_count) and np.all(pooled @ y <= rhs + 0.5))


# --- lower bounds ----------------------------------------------------------------------------


def level_set_bounds(problem: Problem, target: np.ndarray) -> tuple[float, float, float]:
    """Proven lower bounds (fluid max utilisation, whole-item max utilisation, D*) from the
    leximin level sets.

    Proof. Take any set S of staff and the classes C whose eligible sets lie inside S; let T be
    the union of their eligible sets and W their hours. In every whole-item assignment the items
    of C land in T, and prosecutor p's hours from C, H_p, are a non-negative integer combination
    of C's weights, hence a multiple of g = gcd of those weights (in units of 1e-6 h). If every
    p ∈ T ends at utilisation ≤ c_p + s, then H_p ≤ (c_p + s)·a_p − b_p (other classes only add
    load), so H_p ≤ g·⌊((c_p + s)·a_p − b_p)/g⌋⁺, and these must sum to at least W. Hence the
    smallest s with Σ_{p∈T} g·⌊((c_p + s)·a_p − b_p)/g⌋⁺ ≥ W bounds max_p (u_p − c_p) from
    below: with c = 0 for the max utilisation, with c = t (the leximin targets) for D*. D* ≥ 0
    also holds: Σ_p a_p (u_p − t_p) = 0 for every assignment (the same hours in total), so not
    every term can be negative. S runs over the level sets {p : t_p ≥ ℓ} from the top, where the
    fluid fills T exactly and the rounding shows; with g → 0 (plain hours) the same test bounds
    fractional assignments too, and for the top level set it is the LP bound. Floors get a 1e-12
    relative allowance for round-off (which only weakens the bound), and the bisection returns a
    value known to fail the test.
    """
    has_time = problem.capacity > 0
    t = np.where(has_time, target, -np.inf)
    # A class is inside the level set {t ≥ ℓ} when its lowest eligible target is ≥ ℓ.
    starts = np.minimum(problem.class_edge_start[:-1], problem.n_edges - 1)
    class_min = np.minimum.reduceat(t[problem.edge_staff], starts)
    class_min[problem.class_degree == 0] = -np.inf  # (no such class passes the checks)
    levels = np.unique(class_min[np.isfinite(class_min)])[::-1][:MAX_LEVELS]
    units = _weight_units(problem.class_weight)
    fluid, lower, d_lower = 0.0, 0.0, 0.0
    for level in levels:
        inside = class_min >= level
        edges = inside[problem.edge_class]
        staff = np.unique(problem.edge_staff[edges])
        g = float(np.gcd.reduce(units[inside])) * WEIGHT_UNIT if units is not None else 0.0
        hours = float(problem.class_hours[inside].sum())
        a, b = problem.capacity[staff], problem.base_load[staff]
        fluid = max(fluid, _threshold(np.zeros(len(staff)), a, b, 0.0, hours))
        lower = max(lower, _threshold(np.zeros(len(staff)), a, b, g, hours))
        d_lower = max(d_lower, _threshold(target[staff], a, b, g, hours))
    return fluid, max(lower, fluid), d_lower


def _weight_units(weight: np.ndarray) -> np.ndarray | None:
    """Weights as integers in WEIGHT_UNIT, or None where one is not (then no gcd argument)."""
    units = np.rint(weight / WEIGHT_UNIT)
    if np.any(np.abs(units * WEIGHT_UNIT - weight) > 1e-9 * np.maximum(weight, 1.0)) or np.any(units <= 0):
        return None
    return units.astype(np.int64)


def _threshold(c: np.ndarray, a: np.ndarray, b: np.ndarray, g: float, hours: float) -> float:
    """Largest s found with Σ g·⌊((c+s)·a − b)/g⌋⁺ < hours (0 if s = 0 passes): a lower bound on
    the smallest s that passes. g = 0 means plain hours (no integrality)."""
    def room(s: float) -> float:
        top = (c + s) * a
        free = np.maximum(top - b + 1e-12 * (np.abs(top) + np.abs(b) + 1.0), 0.0)  # round-off allowance
        return float((g * np.floor(free / g)).sum()) if g > 0 else float(free.sum())

    need = hours * (1.0 - 1e-12)
    if room(0.0) >= need:
        return 0.0
    lo, hi = 0.0, 1.0
    while room(hi) < need:
        lo, hi = hi, 2.0 * hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if room(mid) >= need else (mid, hi)
    return lo


# --- MIP -------------------------------------------------------------------------------------


def _mip(problem: Problem, target: np.ndarray | None, lower: float, upper: float,
         nodes: int) -> tuple[float, float]:
    """min s over whole items y: every p ends at u_p ≤ c_p + s (c = target, or 0 when None).

    Returns (value of the best assignment found, re-scored from rounded y; inf if none or invalid;
    the MIP's dual bound, or `lower` when the solver gives none). Rows are in utilisation units
    (divided by a_p) so the coefficients are all about the same size."""
    E = problem.n_edges
    has_time = problem.capacity > 0
    staff_rows = np.flatnonzero(has_time)
    renum = np.full(problem.n_staff, -1)
    renum[staff_rows] = np.arange(len(staff_rows))
    w_e = problem.class_weight[problem.edge_class]
    per_util = sp.csr_matrix((w_e / problem.capacity[problem.edge_staff], (renum[problem.edge_staff], np.arange(E))),
                             shape=(len(staff_rows), E))
    by_class = sp.csr_matrix((np.ones(E), (problem.edge_class, np.arange(E))), shape=(problem.n_classes, E))
    pooled, rhs = pooled_rows(problem)
    c = np.zeros(problem.n_staff) if target is None else np.nan_to_num(target)
    offset = c[staff_rows] - problem.base_load[staff_rows] / problem.capacity[staff_rows]
    constraints = [
        LinearConstraint(sp.hstack([by_class, sp.csr_matrix((problem.n_classes, 1))]), problem.class_count,
                         problem.class_count),
        LinearConstraint(sp.hstack([per_util, -np.ones((len(staff_rows), 1))]), -np.inf, offset),
    ]
    if pooled.shape[0]:
        constraints.append(LinearConstraint(sp.hstack([pooled, sp.csr_matrix((pooled.shape[0], 1))]), -np.inf, rhs))
    top = upper + 1e-9 if math.isfinite(upper) else np.inf
    bounds = Bounds(np.r_[np.zeros(E), lower], np.r_[problem.class_count[problem.edge_class], top])
    res = milp(np.r_[np.zeros(E), 1.0], constraints=constraints, bounds=bounds,
               integrality=np.r_[np.ones(E), 0.0],
               options={"node_limit": nodes, "mip_rel_gap": 1e-9, "presolve": True})
    bound = res.get("mip_dual_bound")
    bound = lower if bound is None or not np.isfinite(bound) else max(lower, float(bound))
    if res.x is None:
        return math.inf, bound
    y = np.rint(res.x[:E])
    if not is_assignment(problem, y):
        return math.inf, bound
    hours = np.bincount(problem.edge_staff, weights=w_e * y, minlength=problem.n_staff)
    u = (problem.base_load + hours)[has_time] / problem.capacity[has_time]
    return float((u - c[has_time]).max()), min(bound, float((u - c[has_time]).max()))
