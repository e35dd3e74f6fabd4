"""The integral limit: greedy assignments are real whole-item assignments, the bracket holds, and
on tiny problems it contains the brute-force optimum (and is that optimum when a MIP proved it)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

from balancer.balance import leximin
from balancer.limits import assignment_scores, greedy_rounding, integral_limit, is_assignment
from balancer.problem import pooled_rows
from tests.problems import make_problem, problems

TOL = 1e-6


def compositions(n: int, parts: int):
    """Every way to write n as an ordered sum of `parts` non-negative integers."""
    for bars in itertools.combinations(range(n + parts - 1), parts - 1):
        edges = (-1, *bars, n + parts - 1)
        yield [edges[i + 1] - edges[i] - 1 for i in range(parts)]


def brute_force(problem, balance) -> tuple[float, float]:
    """(best max utilisation, best D*) over every whole-item assignment that keeps the pooled rows."""
    pooled, rhs = pooled_rows(problem)
    per_class = [list(compositions(int(problem.class_count[k]), int(problem.class_degree[k])))
                 for k in range(problem.n_classes)]
    best_u, best_d = np.inf, np.inf
    for choice in itertools.product(*per_class):
        y = np.concatenate(choice).astype(float)
        if np.all(pooled @ y <= rhs + 0.5):
            u, d = assignment_scores(problem, balance, y)
            best_u, best_d = min(best_u, u), min(best_d, d)
    return best_u, best_d


def greedy_assignments(problem, balance, limit):
    """The two greedy assignments `integral_limit` built (it stops each at the matching bound)."""
    return [greedy_rounding(problem, balance, criterion="target", good_enough=limit.above_target_lower),
            greedy_rounding(problem, balance, criterion="utilisation", good_enough=limit.lower)]


@settings(max_examples=60, deadline=None)
@given(problems())
def test_greedy_is_a_whole_item_assignment_and_gives_upper(problem):
    balance = leximin(problem)
    limit = integral_limit(problem, balance, mip_max_edges=-1)  # greedy and bounds only
    assert limit.method == "greedy"
    scores = []
    for y in greedy_assignments(problem, balance, limit):
        assert is_assignment(problem, y)  # whole, non-negative, each class complete, on edges only
        scores.append(assignment_scores(problem, balance, y))
    assert limit.upper == min(u for u, _ in scores)
    assert limit.above_target == max(min(d for _, d in scores), 0.0)  # D* ≥ 0; below only by round-off


@settings(max_examples=60, deadline=None)
@given(problems())
def test_bracket_is_ordered(problem):
    balance = leximin(problem)
    limit = integral_limit(problem, balance)
    # The LP bound is recomputed from the data; the QP's targets agree to its accuracy (test_balance).
    assert limit.lp_bound == pytest.approx(np.nanmax(balance.target_utilisation), abs=1e-4)
    assert limit.lp_bound <= limit.lower + 1e-9
    assert limit.lower <= limit.upper
    assert 0.0 <= limit.above_target_lower <= limit.above_target
    assert limit.above_target >= -1e-9
    assert limit.exact == (limit.upper - limit.lower <= TOL)


@settings(max_examples=60, deadline=None)
@given(problems(max_staff=3, max_classes=3, max_count=3))
def test_brute_force_optimum_lies_in_the_bracket(problem):
    balance = leximin(problem)
    best_u, best_d = brute_force(problem, balance)
    for mip_max_edges in (-1, 20_000):  # the greedy's bracket, then the MIP's
        limit = integral_limit(problem, balance, mip_max_edges=mip_max_edges)
        assert limit.lower - TOL <= best_u <= limit.upper + TOL
        assert limit.above_target_lower - TOL <= best_d <= limit.above_target + TOL
        if limit.method == "mip":
            assert limit.upper == pytest.approx(best_u, abs=TOL)
            assert limit.lower == pytest.approx(best_u, abs=TOL)


def test_known_gap_three_items_two_prosecutors():
    """3 items of 10 h, two prosecutors of 10 h: fluid 15 h each (150 %); whole items put two on
    someone (200 %), 50 points above that prosecutor's target. The gcd bound proves both."""
    problem = make_problem([10, 10], [0, 0], [(10.0, 3, [0, 1])])
    balance = leximin(problem)
    limit = integral_limit(problem, balance, mip_max_edges=-1)
    assert limit.lp_bound == pytest.approx(1.5, abs=1e-6)
    assert limit.lower == pytest.approx(2.0, abs=1e-9)
    assert limit.upper == pytest.approx(2.0, abs=1e-12)
    assert limit.above_target_lower == pytest.approx(0.5, abs=1e-6)
    assert limit.above_target == pytest.approx(0.5, abs=1e-6)
    assert limit.exact and limit.method == "greedy"
    assert limit.to_dict() == pytest.approx({**limit.to_dict(), "upper": 2.0, "lp_bound": 1.5}, abs=1e-6)


def test_mip_closes_a_gap_the_greedy_leaves():
    """Items of 3, 3, 2, 2, 2 h on two prosecutors of 6 h: the fluid splits the 2 h items 1.5 each,
    so rounding gives someone 3 + 2 + 2 (7/6) and no single move helps; {3, 3} and {2, 2, 2} is
    100 %. The gcd (1 h) proves only the LP bound, so only the MIP can close the bracket."""
    problem = make_problem([6, 6], [0, 0], [(3.0, 2, [0, 1]), (2.0, 3, [0, 1])])
    balance = leximin(problem)
    greedy = integral_limit(problem, balance, mip_max_edges=-1)
    assert greedy.upper == pytest.approx(7 / 6) and not greedy.exact and greedy.method == "greedy"
    limit = integral_limit(problem, balance)
    assert limit.upper == pytest.approx(1.0, abs=1e-9) and limit.exact
    assert limit.method == "mip"
    assert limit.above_target == pytest.approx(0.0, abs=1e-9)


def test_pooled_rows_are_kept():
    """Staff 0 has room for everything, but two pooled items exclude them: the pooled row
    y_k0 ≤ n_k − M_k = 1 leaves them one item, in the greedy and in the MIP."""
    base = make_problem([100, 10, 10], [0, 9, 9], [(5.0, 3, [0, 1, 2])])
    problem = replace(base, pooled_item=np.array([0, 1]), pooled_excl_start=np.array([0, 1, 2]),
                      pooled_excl_staff=np.array([0, 0]))
    balance = leximin(problem)
    for y in (greedy_rounding(problem, balance, criterion=c) for c in ("target", "utilisation")):
        assert is_assignment(problem, y) and y[0] <= 1
    limit = integral_limit(problem, balance)
    best_u, _ = brute_force(problem, balance)
    assert limit.upper == pytest.approx(best_u, abs=TOL) and limit.exact
    assert best_u == pytest.approx(14 / 10)  # one more 5 h item on a prosecutor already at 9 of 10 h


def test_no_items():
    problem = make_problem([10, 10], [5, 2], [(1.0, 1, [0])])
    problem = replace(problem, class_weight=np.zeros(0), class_count=np.zeros(0, np.int64),
                      edge_class=np.zeros(0, np.int64), edge_staff=np.zeros(0, np.int64),
                      class_edge_start=np.zeros(1, np.int64), item_class=np.zeros(0, np.int64))
    limit = integral_limit(problem, leximin(problem))
    assert limit.upper == limit.lower == pytest.approx(0.5) and limit.exact
