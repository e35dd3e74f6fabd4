"""Rebalance: which cases that already have a holder (`assigned_to`) move, before the lottery
draws who receives them.

Held cases are counted into *groups*: same class (eligible set and weight) and same holder, so
they are interchangeable. The selection is one convex QP on classes, the leximin objective with
the holders' stays as extra variables:

    minimise   Σ_p (b_p + L_p)² / a_p  +  2 · price · (hours moved)
    subject to class totals on the class→staff flows x, L = hours of x at each prosecutor,
               stay_g ≤ min(n_g, x on the edge (class of g, holder of g)),
               Σ_g (n_g − stay_g) ≤ max,   Σ_g w_g (n_g − stay_g) ≤ max_hours.

Moving an hour from p to q lowers the first term by about 2 (u_p − u_q), so with `price` an hour
moves only while it closes a utilisation gap larger than the price. Without a budget or price
the loads are exactly the leximin profile of a fresh balance. Among the flows with those loads,
a second solve (an LP) keeps as many cases with their holders as possible (of equal counts, the
heavier ones): a case moves only where moving buys balance. Fluid moves are then rounded per group, within every budget, and the
cases of a group that move are picked uniformly at random.

Why a class QP and not an exact integer model: the objective is the leximin one (quadratic), so an
exact model is a MIQP, which neither CBC nor HiGHS' MIP solve, and CP-SAT only on scaled integers;
an outer-approximation MILP (tangent cuts, HiGHS via SciPy) did not prove an optimum within 20 s
even for the 97 groups of scenarios/rebalance.yaml.
The class QP solves 100k cases × 2,000 staff in well under a second, is exact for the fluid
problem. Rounding up where the budgets allow keeps it exact (see `_round_moves`); where a budget
binds, the rounding is at most one case per (class, holder) group away from it — the same order
as the lottery's own one-case-weight deviation, which follows it anyway.

Cases whose holder is not eligible for them any more (no time in the period, a conflict, a lost
specialisation, a group split between holders) always move and count against no budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from balancer.balance import flow_structure, hour_unit, utilisation
from balancer.problem import Problem, pooled_rows
from balancer.scenario import Moves
from balancer.solver import QP, QPSolution, SolverStatus, solve_qp, worst

LOAD_SLACK = 1e-6
"""Relative slack on the loads the keep-as-many-as-possible LP must match (solver round-off)."""


@dataclass(frozen=True)
class Holding:
    """Who holds what before the run, per item (a case or a group of cases)."""

    holder: np.ndarray
    """(I,) staff index of the item's holder; -1 for a new item, or a group split between holders."""
    held: np.ndarray
    """(I,) the item has a holder (some case of it names one)."""
    forced: np.ndarray
    """(I,) held, but the holder may not keep it: it moves whatever the budget."""

    @property
    def any(self) -> bool:
        return bool(self.held.any())


def holding(problem: Problem) -> Holding:
    """Each item's holder (its cases' `case_holder`), and whether the holder is still eligible for it."""
    n_items = len(problem.item_class)
    lo = np.full(n_items, np.iinfo(np.int64).max)
    hi = np.full(n_items, -1)
    np.minimum.at(lo, problem.case_item, problem.case_holder)
    np.maximum.at(hi, problem.case_item, problem.case_holder)
    held = hi >= 0
    holder = np.where(held & (lo == hi), hi, -1)
    return Holding(holder=holder, held=held, forced=held & ~_may_keep(problem, holder))


def _may_keep(problem: Problem, holder: np.ndarray) -> np.ndarray:
    """(I,) the holder is in the item's eligible set (for a pooled item: and not excluded)."""
    key = problem.edge_class * problem.n_staff + problem.edge_staff
    if len(key) == 0:
        return np.zeros(len(holder), dtype=bool)
    want = problem.item_class * problem.n_staff + np.maximum(holder, 0)
    pos = np.minimum(np.searchsorted(key, want), len(key) - 1)
    ok = (holder >= 0) & (key[pos] == want)
    if len(problem.pooled_item):
        m, _ = problem.pooled_edges()
        items = problem.pooled_item[m]
        hit = problem.pooled_excl_staff == holder[items]
        ok[items[hit]] = False
    return ok


@dataclass(frozen=True)
class Groups:
    """Held items that may stay, counted by (class, holder)."""

    of_item: np.ndarray
    """(I,) group of each item; -1 if new or forced."""
    cls: np.ndarray
    """(G,) class of the group."""
    staff: np.ndarray
    """(G,) holder of the group."""
    count: np.ndarray
    """(G,) items in the group."""
    edge: np.ndarray
    """(G,) the edge (class, holder): where staying items sit."""


def groups(problem: Problem, hold: Holding) -> Groups:
    keep = hold.held & ~hold.forced
    key = problem.item_class * problem.n_staff + hold.holder
    codes, uniques = pd.factorize(key[keep], sort=True)
    of_item = np.full(len(key), -1, dtype=np.int64)
    of_item[keep] = codes
    uniques = np.asarray(uniques, dtype=np.int64)
    cls, staff = uniques // problem.n_staff, uniques % problem.n_staff
    return Groups(of_item=of_item, cls=cls, staff=staff, count=np.bincount(codes, minlength=len(uniques)),
                  edge=problem.edge_index(cls, staff))


@dataclass(frozen=True)
class Selection:
    """How many items of each group move, and the balance that buys."""

    groups: Groups
    moved: np.ndarray
    """(G,) items of each group that move (integers, within every budget)."""
    fluid_moved: np.ndarray
    """(G,) the fluid optimum's moves before rounding."""
    solver_status: SolverStatus
    """The worse of the class QP's and the keep-as-many-as-possible LP's (SOLVED when nothing may
    move for balance and neither ran)."""
    method: str = "none"
    """How `moved` was chosen: `fluid` (the fluid optimum rounded up: exact), `rounded` (a budget
    binds: the fluid optimum rounded within it), or `none` (nothing may move for balance)."""


def select(problem: Problem, hold: Holding, moves: Moves) -> Selection:
    """Which held items move: the class QP, then the keep-as-many-as-possible LP, then rounding."""
    grp = groups(problem, hold)
    if moves.max == 0 or moves.max_hours == 0 or len(grp.count) == 0:  # nothing may move for balance
        none = np.zeros(len(grp.count))
        return Selection(groups=grp, moved=none.astype(np.int64), fluid_moved=none,
                         solver_status=SolverStatus.SOLVED)
    model = _SelectionModel(problem, grp, moves)
    kept = model.fewest_moves()
    fluid = np.clip(grp.count - kept.x[model.stay], 0.0, grp.count)
    moved, method = _round_moves(problem, grp, fluid, moves)
    return Selection(groups=grp, moved=moved, fluid_moved=fluid, method=method, solver_status=kept.status)


def frontier(problem: Problem, hold: Holding, moves: Moves, budgets: list[int]) -> pd.DataFrame:
    """For each move budget (cases), the fluid balance reachable: max utilisation and spread of
    the profile `run` targets, and the lowest max utilisation any choice of moves reaches; and
    the worst status of the row's three solves (`solver_status`)."""
    grp = groups(problem, hold)
    rows = []
    on = problem.capacity > 0
    for budget in budgets:
        limited = moves.model_copy(update={"max": budget})
        model = _SelectionModel(problem, grp, limited)
        kept = model.fewest_moves()
        x = kept.x
        u = utilisation(problem, model.load(x))[on]
        lowest = model.solve(model.minmax_objective(), minmax=True)
        rows.append({
            "budget": budget,
            "moved_cases": float(np.clip(grp.count - x[model.stay], 0, None).sum()),
            "moved_hours": float((np.clip(grp.count - x[model.stay], 0, None) * problem.class_weight[grp.cls]).sum()),
            "max_utilisation": float(u.max()),
            "min_utilisation": float(u.min()),
            "spread": float(u.max() - u.min()),
            "lowest_max_utilisation": float(lowest.x[-1]),
            "solver_status": worst(kept.status, lowest.status).value,
        })
    return pd.DataFrame(rows)


def moves_needed(problem: Problem, hold: Holding, moves: Moves) -> float:
    """Cases moved for balance when only `moves.price` limits them (the end of the frontier)."""
    sel = select(problem, hold, moves.model_copy(update={"max": None, "max_hours": None}))
    return float(sel.fluid_moved.sum())


class _SelectionModel:
    """Variables [x (E, items per edge), L (P, load in hour units), stay (G), t (1, top utilisation)]."""

    def __init__(self, problem: Problem, grp: Groups, moves: Moves) -> None:
        E, P, G, K = problem.n_edges, problem.n_staff, len(grp.count), problem.n_classes
        self.problem, self.grp, self.moves = problem, grp, moves
        self.unit = unit = hour_unit(problem)
        self.a = problem.capacity / unit
        self.b = problem.base_load / unit
        self.inv_a = np.divide(1.0, self.a, out=np.zeros(P), where=self.a > 0)
        self.n = E + P + G + 1
        self.L = slice(E, E + P)
        self.stay = slice(E + P, E + P + G)
        self.w_g = problem.class_weight[grp.cls] / unit
        by_class, by_staff = flow_structure(problem)
        hours = by_staff @ sp.diags(problem.class_weight[problem.edge_class] / unit)
        Z = lambda r, c: sp.csr_matrix((r, c))  # noqa: E731
        self.A_eq = sp.bmat([[by_class, Z(K, P), Z(K, G), Z(K, 1)],
                             [hours, -sp.identity(P), Z(P, G), Z(P, 1)]], format="csr")
        self.b_eq = np.concatenate([problem.class_count.astype(np.float64), np.zeros(P)])
        pick = sp.csr_matrix((np.ones(G), (np.arange(G), grp.edge)), shape=(G, E))
        pooled, pooled_rhs = pooled_rows(problem)
        budget_rows, budget_rhs = [], []
        if moves.max is not None:  # Σ (n − stay) ≤ max
            budget_rows.append(sp.hstack([Z(1, E + P), -np.ones((1, G)), Z(1, 1)]))
            budget_rhs.append(moves.max - grp.count.sum())
        if moves.max_hours is not None:  # Σ w (n − stay) ≤ max_hours
            budget_rows.append(sp.hstack([Z(1, E + P), -self.w_g[None, :], Z(1, 1)]))
            budget_rhs.append(moves.max_hours / unit - self.w_g @ grp.count)
        self.A_le = sp.vstack([
            sp.hstack([-sp.identity(E), Z(E, P + G + 1)]),  # x ≥ 0
            sp.hstack([Z(G, E + P), -sp.identity(G), Z(G, 1)]),  # stay ≥ 0
            sp.hstack([Z(G, E + P), sp.identity(G), Z(G, 1)]),  # stay ≤ n
            sp.hstack([-pick, Z(G, P), sp.identity(G), Z(G, 1)]),  # stay ≤ x on the holder's edge
            sp.hstack([pooled, Z(pooled.shape[0], P + G + 1)]),  # pooled conflicts stay drawable
            *budget_rows,
        ], format="csr", dtype=np.float64)
        self.b_le = np.concatenate([np.zeros(E + G), grp.count, np.zeros(G), pooled_rhs,
                                    np.asarray(budget_rhs, dtype=np.float64)])
        # Only the min-max LP uses t: (b + L)/a ≤ t for everyone with time (a free t elsewhere
        # would leave the QP's optimal set unbounded).
        with_time = np.flatnonzero(self.a > 0)
        r = len(with_time)
        top = sp.csr_matrix((self.inv_a[with_time], (np.arange(r), with_time)), shape=(r, P))
        self.top_rows = sp.hstack([Z(r, E), top, Z(r, G), -np.ones((r, 1))], format="csr")
        self.top_rhs = -self.b[with_time] * self.inv_a[with_time]
        self.t_rows = sp.csr_matrix(([1.0, -1.0], ([0, 1], [self.n - 1, self.n - 1])), shape=(2, self.n))

    def load(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x[self.L], 0.0) * self.unit

    def balance_objective(self) -> tuple[np.ndarray, np.ndarray]:
        """½ Σ 2L²/a + Σ 2bL/a == Σ (b+L)²/a − const; minus 2·price per hour that stays."""
        diag, q = np.zeros(self.n), np.zeros(self.n)
        diag[self.L] = 2.0 * self.inv_a
        q[self.L] = 2.0 * self.b * self.inv_a
        q[self.stay] = -2.0 * self.moves.price * self.w_g
        return diag, q

    def keep_objective(self) -> tuple[np.ndarray, np.ndarray]:
        """Keep as many cases as possible with their holders; of equal counts, the heavier ones."""
        q = np.zeros(self.n)
        q[self.stay] = -(1.0 + 1e-3 * self.w_g / max(self.w_g.max(initial=0.0), 1e-12))
        return np.zeros(self.n), q

    def minmax_objective(self) -> tuple[np.ndarray, np.ndarray]:
        q = np.zeros(self.n)
        q[-1] = 1.0
        return np.zeros(self.n), q

    def fewest_moves(self) -> QPSolution:
        """The balance QP, then among the flows with its loads the one that keeps the most cases
        with their holders; the status is the worse of the two solves'."""
        balanced = self.solve(self.balance_objective())
        kept = self.solve(self.keep_objective(), loads=self.load(balanced.x))
        return QPSolution(x=kept.x, status=worst(balanced.status, kept.status),
                          iterations=balanced.iterations + kept.iterations)

    def solve(self, objective, loads: np.ndarray | None = None, minmax: bool = False) -> QPSolution:
        A_le, b_le = self.A_le, self.b_le
        if minmax:
            A_le = sp.vstack([A_le, self.top_rows], format="csr")
            b_le = np.concatenate([b_le, self.top_rhs])
        else:  # t is unused: pin it to 0
            A_le = sp.vstack([A_le, self.t_rows], format="csr")
            b_le = np.concatenate([b_le, [0.0, 0.0]])
        if loads is not None:  # hold the loads where the balance put them
            P = self.problem.n_staff
            rows = sp.csr_matrix((np.ones(P), (np.arange(P), np.arange(self.L.start, self.L.stop))),
                                 shape=(P, self.n))
            target = loads / self.unit
            slack = LOAD_SLACK * np.maximum(self.a, 1.0)
            A_le = sp.vstack([A_le, rows, -rows], format="csr")
            b_le = np.concatenate([b_le, target + slack, -(target - slack)])
        diag, q = objective
        return solve_qp(QP(diag, q, self.A_eq, self.b_eq, A_le, b_le))


def _round_moves(problem: Problem, grp: Groups, fluid: np.ndarray, moves: Moves) -> tuple[np.ndarray, str]:
    """Whole cases to release per group, near the fluid moves and within every budget.

    When the budgets allow, every fractional move is rounded up: the released cases go back into
    the lottery, which returns each to its holder with the fluid optimum's share, so the loads
    drawn for are exactly the optimum's (with no budget: a fresh balance's), and a released case
    that comes back is not a move. When a budget binds, release only whole cases the budget pays
    for: round down, then round up the groups whose fluid move is at least half a case, largest
    first, while every budget holds (rounding up a small share of a heavy case would spend budget
    on a case the balance asked only a bit of)."""
    weight = problem.class_weight[grp.cls]
    up = np.minimum(np.ceil(fluid - 1e-6).astype(np.int64), grp.count)
    cases_cap = np.inf if moves.max is None else moves.max
    hours_cap = np.inf if moves.max_hours is None else moves.max_hours
    if up.sum() <= cases_cap and weight @ up <= hours_cap + 1e-9:
        return up, "fluid"
    moved = np.minimum(np.floor(fluid + 1e-6).astype(np.int64), grp.count)
    cases_left = cases_cap - moved.sum()
    hours_left = hours_cap - weight @ moved
    rest = fluid - moved
    for g in np.argsort(-rest, kind="stable"):
        if rest[g] < 0.5 or cases_left < 1:
            break
        if moved[g] < grp.count[g] and weight[g] <= hours_left + 1e-9:
            moved[g] += 1
            cases_left -= 1
            hours_left -= weight[g]
    return moved, "rounded"


def released_items(problem: Problem, hold: Holding, selection: Selection, rng: np.random.Generator) -> np.ndarray:
    """(I,) items that go back into the draw: the forced ones, and in each group `moved` of its
    items, picked uniformly at random (which of a holder's interchangeable cases go is not
    anybody's choice)."""
    released = hold.forced.copy()
    grp = selection.groups
    members = np.flatnonzero(grp.of_item >= 0)
    members = members[rng.permutation(len(members))]
    members = members[np.argsort(grp.of_item[members], kind="stable")]
    rank = np.arange(len(members)) - np.searchsorted(grp.of_item[members], grp.of_item[members])
    released[members[rank < selection.moved[grp.of_item[members]]]] = True
    return released


def pool_problem(problem: Problem, hold: Holding, released: np.ndarray) -> Problem:
    """The problem the lottery draws: the new and released cases; the cases that stay become their
    holders' base load."""
    stays = (hold.held & ~released)[problem.case_item]
    staying_hours = np.bincount(hold.holder[problem.case_item][stays], weights=problem.case_weight[stays],
                                minlength=problem.n_staff)
    return problem.restrict(~stays, staying_hours)
