"""Balance step: the leximin utilisation profile, on classes.

The fluid load vectors form a polymatroid base polytope (shifted by the base loads); the minimiser
of Σ_p (b_p + L_p)² / a_p over it is unique in L and is the lexicographically optimal base
(Fujishige 1980): the most-loaded prosecutor as low as eligibility allows, then the next, and so
on. One convex QP on class×staff edges gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from balancer.problem import Problem, pooled_rows
from balancer.solver import QP, SolverStatus, solve_qp


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


def leximin(problem: Problem) -> Balance:
    """The leximin utilisation profile (variables: edge flows z, then loads L, in hour units).

    Hard capacity needs no constraint here: leximin first minimises the largest utilisation, so
    whenever the backlog fits under 100 % (the capacity check proves it does), the profile does.
    """
    E, P = problem.n_edges, problem.n_staff
    unit = hour_unit(problem)
    a = problem.capacity / unit
    b = problem.base_load / unit
    has_time = a > 0
    inv_a = np.divide(1.0, a, out=np.zeros(P), where=has_time)
    by_class, by_staff = flow_structure(problem)

    # ½ Σ 2 L²/a + Σ 2 b L / a  ==  Σ (b + L)² / a  minus a constant
    diag = np.concatenate([np.zeros(E), 2.0 * inv_a])
    q = np.concatenate([np.zeros(E), 2.0 * b * inv_a])
    A_eq = sp.vstack(
        [
            sp.hstack([by_class, sp.csr_matrix((problem.n_classes, P))]),
            sp.hstack([by_staff, -sp.identity(P)]),
        ]
    ).tocsr()
    b_eq = np.concatenate([problem.class_hours / unit, np.zeros(P)])
    pooled, pooled_rhs = pooled_rows(problem)
    w_e = problem.class_weight[problem.edge_class]
    A_le = sp.vstack([
        sp.hstack([-sp.identity(E), sp.csr_matrix((E, P))]),  # z ≥ 0
        sp.hstack([pooled @ sp.diags(unit / w_e), sp.csr_matrix((pooled.shape[0], P))]),  # items
    ]).tocsr()
    b_le = np.concatenate([np.zeros(E), pooled_rhs])
    solution = solve_qp(QP(diag, q, A_eq, b_eq, A_le, b_le))

    flow = np.maximum(solution.x[:E], 0.0) * unit
    load = by_staff @ flow
    return Balance(load=load, flow=flow, target_utilisation=utilisation(problem, load),
                   solver_status=solution.status)


def utilisation(problem: Problem, load: np.ndarray) -> np.ndarray:
    """(base load + load) / capacity, NaN where there is no capacity."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (problem.base_load + load) / problem.capacity
    return np.where(problem.capacity > 0, u, np.nan)
