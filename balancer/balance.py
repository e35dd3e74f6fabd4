"""Balance step: the leximin utilisation profile, on classes.

The fluid load vectors form a polymatroid base polytope (shifted by the base loads); the minimiser
of Σ_p (b_p + L_p)² / a_p over it is unique in L and is the lexicographically optimal base
(Fujishige 1980): the most-loaded prosecutor as low as eligibility allows, then the next, and so
on. One convex QP on class×staff edges gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from balancer.problem import Problem, pooled_rows
from balancer.solver import QP, SolverStatus, solve_qp

TODAY_WEIGHT = 1e-3
"""With a look-ahead, the weight of today's own balance next to the year's: enough to make
today's loads unique and even, too little to move the year's profile by more than ~0.1 %."""


@dataclass(frozen=True)
class Ahead:
    """Work expected later in the period (daily intake's forecast), balanced together with today's
    so that prosecutors who alone can take some of it are kept for it."""

    hours: np.ndarray
    """(F,) hours of each kind of expected work (one per case type expected)."""
    eligible: np.ndarray
    """(F, P) bool: who may take it (the type's eligibility), a column for each of `staff_ids`."""
    staff_ids: np.ndarray
    """(P,) the prosecutor of each column: a scenario's order, which need not be the problem's
    (`Problem.staff_ids` are sorted); `leximin` lines them up by id."""
    until: np.ndarray | None = None
    """(F,) int: by which checkpoint each kind of work is expected — 0: the period's end; c ≥ 1:
    the c-th checkpoint (daily intake's: the end of the c-th month from today), and so by every
    later one too. The profile is balanced at each checkpoint with the work expected by then
    (`leximin`). None: all by the period's end."""

    def aligned(self, problem: Problem) -> np.ndarray:
        """`eligible` with its columns in `problem.staff_ids`' order."""
        columns = pd.Index(self.staff_ids).get_indexer(problem.staff_ids)
        if (columns < 0).any() or len(columns) != len(self.staff_ids):
            raise ValueError("the look-ahead's prosecutors are not the problem's")
        return self.eligible[:, columns]


@dataclass(frozen=True)
class Balance:
    load: np.ndarray
    """(P,) fluid hours each prosecutor takes from the backlog at the leximin optimum."""
    flow: np.ndarray
    """(E,) fluid hours on each class→staff edge (one optimal flow; loads are what is unique)."""
    target_utilisation: np.ndarray
    """(P,) (base load + load) / capacity; NaN for someone with no capacity in the period."""
    solver_status: SolverStatus = SolverStatus.SOLVED
    """How exact the leximin QP's optimum is (`leximin` always says; the default is for a
    balance assembled from another's loads, which no solve of its own produced)."""
    with_ahead: np.ndarray | None = None
    """(P,) with a look-ahead (`Ahead`): the hours each prosecutor takes of today's work and the
    expected work together — the profile today's loads were chosen towards. None without one."""


def hour_unit(problem: Problem) -> float:
    """A scale for hours that keeps the QPs well conditioned (a typical capacity is ~1)."""
    positive = problem.capacity[problem.capacity > 0]
    return float(np.median(positive)) if len(positive) else 1.0


def flow_structure(problem: Problem) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Incidence of edges on classes (K×E) and on staff (P×E)."""
    E = problem.n_edges
    ones = np.ones(E)
    cols = np.arange(E)
    by_class = sp.csr_matrix((ones, (problem.edge_class, cols)), shape=(problem.n_classes, E))
    by_staff = sp.csr_matrix((ones, (problem.edge_staff, cols)), shape=(problem.n_staff, E))
    return by_class, by_staff


def capacity_room(problem: Problem) -> np.ndarray:
    """(P,) hours each prosecutor can still take before 100 % (never negative)."""
    return np.maximum(problem.capacity - problem.base_load, 0.0)


def leximin(problem: Problem, ahead: Ahead | None = None) -> Balance:
    """The leximin utilisation profile (variables: edge flows z, then loads L, in hour units).

    Hard capacity needs no constraint here: leximin first minimises the largest utilisation, so
    whenever the backlog fits under 100 % (the capacity check proves it does), the profile does.

    With `ahead`, the profile is that of today's work and the expected work together (flows w of
    it, loads T = L + its share): Σ (b + T)² / a, plus `TODAY_WEIGHT` × Σ (b + L)² / a so that
    among the ways to reach that profile today's loads are the most even. With checkpoints
    (`Ahead.until`), the loads with the work expected by each (T_c) are balanced too, all of them
    together weighing as much as the period's end: a wave expected in spring is then met by
    specialists who took less general work before it, not only by the period's end. The balance
    returned is today's part: the loads L the lottery then draws towards."""
    E, P = problem.n_edges, problem.n_staff
    unit = hour_unit(problem)
    a = problem.capacity / unit
    b = problem.base_load / unit
    inv_a = np.divide(1.0, a, out=np.zeros(P), where=a > 0)
    by_class, by_staff = flow_structure(problem)
    pooled, pooled_rhs = pooled_rows(problem)
    w_e = problem.class_weight[problem.edge_class]
    # rows: each class's hours, L = by_staff z; the items' pooled limits; z ≥ 0
    A_eq = sp.vstack([sp.hstack([by_class, sp.csr_matrix((problem.n_classes, P))]),
                      sp.hstack([by_staff, -sp.identity(P)])]).tocsr()
    b_eq = np.concatenate([problem.class_hours / unit, np.zeros(P)])
    A_le = sp.vstack([sp.hstack([-sp.identity(E), sp.csr_matrix((E, P))]),
                      sp.hstack([pooled @ sp.diags(unit / w_e), sp.csr_matrix((pooled.shape[0], P))])]).tocsr()
    b_le = np.concatenate([np.zeros(E), pooled_rhs])
    # ½ Σ 2 L²/a + Σ 2 b L / a  ==  Σ (b + L)² / a  minus a constant
    diag, q = 2.0 * inv_a, 2.0 * b * inv_a
    if ahead is not None:
        A_eq, b_eq, A_le, b_le, diag, q = _with_ahead(ahead, ahead.aligned(problem), unit, A_eq, b_eq, A_le, b_le,
                                                      diag, q)
    n = A_eq.shape[1]
    solution = solve_qp(QP(np.concatenate([np.zeros(E), diag, np.zeros(n - E - len(diag))]),
                           np.concatenate([np.zeros(E), q, np.zeros(n - E - len(q))]), A_eq, b_eq, A_le, b_le))
    flow = exact_flow(problem, solution.x[:E] * unit)
    load = by_staff @ flow
    total = solution.x[E + P:E + 2 * P] * unit if ahead is not None else None
    return Balance(load=load, flow=flow, target_utilisation=utilisation(problem, load),
                   solver_status=solution.status, with_ahead=total)


def exact_flow(problem: Problem, flow: np.ndarray) -> np.ndarray:
    """(E,) the solver's flow, non-negative and scaled so each class places exactly its hours.

    The QP holds the class equalities only to its tolerance *in hour units* (a median capacity):
    beside 10,000-hour capacities a 0.01-hour item may be placed only half. Loads summed from such
    a flow can sit below what a prosecutor must take, and the lottery's band around them then
    admits no assignment at all. A class the solver left with no positive flow is split evenly."""
    flow = np.maximum(flow, 0.0)
    placed = np.bincount(problem.edge_class, weights=flow, minlength=problem.n_classes)
    empty = placed <= 0
    if empty.any():
        on = empty[problem.edge_class]
        flow[on] = 1.0
        placed[empty] = np.bincount(problem.edge_class[on], minlength=problem.n_classes)[empty]
    return flow * (problem.class_hours / placed)[problem.edge_class]


def _with_ahead(ahead: Ahead, eligible: np.ndarray, unit: float, A_eq, b_eq, A_le, b_le, diag, q):
    """The leximin QP of `leximin` extended by the expected work: variables z, L (today), then
    T_0 (P, the loads with all the expected work, at the period's end), T_1 … T_C (the loads with
    the work expected by each earlier checkpoint, `Ahead.until`) and w (its flows, one per
    `eligible` pair: the look-ahead's, in the problem's staff order). T_0 weighs in the objective
    as much as all earlier checkpoints together (each like a period's end), and L by
    `TODAY_WEIGHT`, so it stays diagonal. (Weighed like one checkpoint among twelve, the period's
    end of two generated skewed years came out a point higher, and their month ends no lower.)"""
    P = len(diag)
    F_rows, F_staff = np.nonzero(eligible & (ahead.hours[:, None] > 0))
    W = len(F_rows)
    until = np.zeros(len(ahead.hours), dtype=np.int64) if ahead.until is None else ahead.until
    C = int(until.max(initial=0))
    by_kind = sp.csr_matrix((np.ones(W), (F_rows, np.arange(W))), shape=(len(ahead.hours), W))
    n_today, n_loads = A_eq.shape[1], (C + 1) * P
    pad = lambda m, cols: sp.hstack([m, sp.csr_matrix((m.shape[0], cols))])  # noqa: E731
    today = sp.hstack([sp.csr_matrix((P, n_today - P)), sp.identity(P)])  # picks L
    by = until[F_rows]
    rows = [pad(A_eq, n_loads + W), sp.hstack([sp.csr_matrix((len(ahead.hours), n_today + n_loads)), by_kind])]
    for c in range(C + 1):  # T_c = L + the expected work that has come by checkpoint c
        counted = np.ones(W) if c == 0 else ((by >= 1) & (by <= c)).astype(float)
        share = sp.csr_matrix((counted, (F_staff, np.arange(W))), shape=(P, W))
        T_c = sp.csr_matrix((-np.ones(P), (np.arange(P), c * P + np.arange(P))), shape=(P, n_loads))
        rows.append(sp.hstack([today, T_c, share]))
    A_eq = sp.vstack(rows).tocsr()
    b_eq = np.concatenate([b_eq, ahead.hours / unit, np.zeros(n_loads)])
    A_le = sp.vstack([pad(A_le, n_loads + W), sp.hstack([sp.csr_matrix((W, n_today + n_loads)), -sp.identity(W)])]).tocsr()
    b_le = np.concatenate([b_le, np.zeros(W)])
    end = max(C, 1)  # the period's end weighs as much as all the checkpoints before it
    return (A_eq, b_eq, A_le, b_le, np.concatenate([TODAY_WEIGHT * diag, end * diag] + [diag] * C),
            np.concatenate([TODAY_WEIGHT * q, end * q] + [q] * C))


def utilisation(problem: Problem, load: np.ndarray) -> np.ndarray:
    """(base load + load) / capacity, NaN where there is no capacity."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (problem.base_load + load) / problem.capacity
    return np.where(problem.capacity > 0, u, np.nan)
