"""Conflicts of interest: never assigned to an excluded prosecutor, and the promised π holds for
conflicted cases too — both when they form classes of their own and when they stay pooled in a
large class."""

from __future__ import annotations

import numpy as np
import pytest

import balancer
import balancer.problem
from balancer.balance import leximin
from balancer.limits import integral_limit
from balancer.lottery import design, draw_traced
from balancer.problem import compile_problem
from tests.conftest import ROOT, write
from tests.test_lottery import assert_within_load_bound, frequency_test


def conflicted_scenario(tmp_path, n_staff=12, n_cases=60, seed=0):
    rng = np.random.default_rng(seed)
    staff = "\n".join(
        f"  - {{id: S{i:02d}, capacity_hours: {int(rng.integers(40, 120))}, "
        f"current_load_hours: {int(rng.integers(0, 30))}, specialisations: [{'fraud' if i % 2 else 'general'}]}}"
        for i in range(n_staff))
    cases = []
    for i in range(n_cases):
        kind = "fraud" if i % 3 == 0 else "theft"
        excluded = ""
        if i % 8 == 0:  # one case in eight has a conflict with one or two colleagues
            who = rng.choice(n_staff, size=int(rng.integers(1, 3)), replace=False)
            excluded = ", excluded: [" + ", ".join(f"S{w:02d}" for w in who) + "]"
        cases.append(f"  - {{id: C{i:03d}, type: {kind}{excluded}}}")
    return balancer.load_scenario(write(tmp_path / "conflicts.yaml", f"""\
name: conflicts
case_types:
  - {{id: theft, weight_hours: 4}}
  - {{id: fraud, weight_hours: 9, specialisation: fraud}}
staff:
{staff}
cases:
{chr(10).join(cases)}
"""))


def designed(problem):
    return design(problem, leximin(problem), tolerance=0.05, max_probability=0.5)


def test_explicit_conflict_classes(tmp_path):
    problem = compile_problem(conflicted_scenario(tmp_path))
    assert len(problem.pooled_item) == 0
    assert problem.n_classes > 2  # conflicted cases have classes of their own here
    frequency_test(problem, designed(problem), draws=2000, seed=1)


@pytest.fixture
def pooled(monkeypatch, tmp_path):
    """The same scenario with pooling forced on (normally only for classes of > 64 staff)."""
    monkeypatch.setattr(balancer.problem, "POOL_MIN_STAFF", 2)
    problem = compile_problem(conflicted_scenario(tmp_path))
    assert len(problem.pooled_item) > 0 and problem.n_classes == 2
    return problem


def test_pooled_conflicts_keep_their_promised_probabilities(pooled):
    frequency_test(pooled, designed(pooled), draws=3000, seed=2)


def test_pooled_conflicts_never_land_on_excluded_staff_and_loads_stay_bounded(pooled):
    d = designed(pooled)
    start = pooled.pooled_excl_start
    for seed in range(300):
        drawn = draw_traced(pooled, d, np.random.default_rng(seed))
        for m, item in enumerate(pooled.pooled_item):
            assert drawn.item_staff[item] not in pooled.pooled_excl_staff[start[m]:start[m + 1]]
        assert_within_load_bound(pooled, d, drawn)


def test_pooling_is_what_keeps_large_scenarios_small(tmp_path):
    """150 staff, 1 case in 8 conflicted: pooled, the classes stay two; explicit would make dozens.
    An exclusion of someone who could not take the case anyway changes nothing."""
    scenario = conflicted_scenario(tmp_path, n_staff=150, n_cases=400)
    problem = compile_problem(scenario)
    assert problem.n_classes == 2
    specs = dict(zip(scenario.staff["id"], scenario.staff["specialisations"]))
    matters = [any(c.type == "theft" or "fraud" in specs[s] for s in c.excluded)
               for c in scenario.cases.itertuples() if c.excluded]
    assert len(problem.pooled_item) == sum(matters) > 40


def test_grouped_and_conflicted_cases_keep_their_promised_probabilities():
    """The shipped office with groups (one item each) and conflicts, designed as `balancer.solve`
    designs it (count caps and the integral limit included): per-pair frequencies match π."""
    problem = compile_problem(balancer.load_scenario(ROOT / "scenarios" / "groups-and-conflicts.yaml"))
    assert (np.bincount(problem.case_item) > 1).any()  # groups are items of several cases
    balance = leximin(problem)
    limit = integral_limit(problem, balance)
    d = design(problem, balance, tolerance=0.05, max_probability=0.5,
               integral_gap=limit.above_target, integral_max=limit.upper)
    frequency_test(problem, d, draws=2000, seed=3)
