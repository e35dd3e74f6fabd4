"""The leximin profile from the QP equals an independent LP computation of leximin."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from scipy.optimize import linprog

from balancer.balance import flow_structure, leximin
from tests.problems import make_problem, problems


def lp_leximin(problem) -> np.ndarray:
    """Leximin utilisation by the textbook method: minimise the largest free utilisation t with
    HiGHS; fix every prosecutor who cannot get below t; repeat until all are fixed."""
    E, P = problem.n_edges, problem.n_staff
    by_class, by_staff = flow_structure(problem)
    a, b = problem.capacity, problem.base_load
    u_of_flow = sp.diags(1.0 / a) @ by_staff  # utilisation = b/a + u_of_flow @ z
    fixed = np.full(P, np.nan)
    while np.isnan(fixed).any():
        free = np.isnan(fixed)
        # variables: z (E), t
        A_ub = sp.hstack([u_of_flow[free], -np.ones((free.sum(), 1))])
        b_ub = -(b / a)[free]
        A_eq = [sp.hstack([by_class, np.zeros((problem.n_classes, 1))])]
        b_eq = [problem.class_hours]
        if (~free).any():
            A_eq.append(sp.hstack([u_of_flow[~free], np.zeros(((~free).sum(), 1))]))
            b_eq.append(fixed[~free] - (b / a)[~free])
        A_eq = sp.vstack(A_eq)
        b_eq = np.concatenate(b_eq)
        c = np.r_[np.zeros(E), 1.0]
        t = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, method="highs").fun
        for p in np.flatnonzero(free):
            # with everyone free at most t, how low can p go?
            cp = np.r_[u_of_flow[p].toarray().ravel(), 0.0]
            A_ub_t = sp.hstack([u_of_flow[free], np.zeros((free.sum(), 1))])
            low = linprog(cp, A_ub=A_ub_t, b_ub=t - (b / a)[free] + 1e-9, A_eq=A_eq, b_eq=b_eq,
                          method="highs").fun + b[p] / a[p]
            if low >= t - 1e-7:
                fixed[p] = t
        if np.isnan(fixed).sum() == free.sum():  # numerical guard: fix the worst
            fixed[np.flatnonzero(free)[0]] = t
    return fixed


@settings(max_examples=60, deadline=None)
@given(problems())
def test_profile_equals_lp_leximin(problem):
    result = leximin(problem)
    # 1e-4 utilisation (0.01 points): an interior-point solver approaches an optimum where flows
    # without curvature sit on their bounds only like the square root of its gap tolerance.
    np.testing.assert_allclose(result.target_utilisation, lp_leximin(problem), atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_profile_is_reachable_through_eligible_edges(problem):
    result = leximin(problem)
    by_class, by_staff = flow_structure(problem)
    assert (result.flow >= 0).all()
    np.testing.assert_allclose(by_class @ result.flow, problem.class_hours, rtol=1e-12)  # exact_flow
    np.testing.assert_allclose(by_staff @ result.flow, result.load, rtol=1e-9, atol=1e-9)
    # nobody without an eligible class gets work
    has_edge = np.bincount(problem.edge_staff, minlength=problem.n_staff) > 0
    assert np.all(result.load[~has_edge] == 0)


def test_minimising_only_the_maximum_is_not_enough():
    """Two specialists are stuck with their cases; leximin still balances everyone else."""
    problem = make_problem(
        capacity=[100, 100, 100, 100],
        base_load=[0, 0, 0, 0],
        classes=[(90.0, 1, [0]), (10.0, 6, [1, 2, 3])],
    )
    u = leximin(problem).target_utilisation
    np.testing.assert_allclose(u, [0.9, 0.2, 0.2, 0.2], atol=1e-6)


def test_tiny_items_beside_huge_capacities_are_placed_whole():
    """Hours are solved in units of the median capacity (10,000 h here), where a 0.01-hour item is
    10⁻⁶ and the solver's tolerance could place half of it: the profile must still give the
    50-hour specialist at least the work only it may take, or no lottery fits around it."""
    problem = make_problem(
        capacity=[1e4, 1e4, 50],
        base_load=[0, 0.25, 0],
        classes=[(0.01, 3, [0, 1, 2]), (0.01, 1, [2]), (51.125, 4, [0, 1, 2]), (26.13, 1, [2])],
    )
    result = leximin(problem)
    by_class, _ = flow_structure(problem)
    np.testing.assert_allclose(by_class @ result.flow, problem.class_hours, rtol=1e-12)
    assert result.load[2] >= 0.01 + 26.13 - 1e-9
