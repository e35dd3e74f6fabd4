"""The compiled Problem is complete: it says what the scenario says (types' rules, groups,
exclusions, holders) for checks, rebalancing and plans, and a part of it (`Problem.restrict`)
compiles exactly as a scenario of just those cases would."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import balancer
import balancer.problem
from balancer.problem import compile_problem, staff_capacity, type_eligibility
from tests.conftest import ROOT, SHIPPED
from tests.problems import assert_same_problem
from tests.test_exclusions import conflicted_scenario


def scenario_of(sc, keep: np.ndarray, extra_load: np.ndarray):
    """The scenario of the kept cases alone, nobody holding them, `extra_load` added to the staff's."""
    staff = sc.staff.copy()
    staff["current_load_hours"] = staff["current_load_hours"].to_numpy(np.float64) + extra_load
    cases = sc.cases[keep].copy()
    cases["assigned_to"] = None
    return dataclasses.replace(sc, staff=staff, cases=cases.reset_index(drop=True))


def assert_restrict_is_a_fresh_compile(sc, seed: int) -> None:
    problem = compile_problem(sc)
    rng = np.random.default_rng(seed)
    for share in (0.0, 0.3, 0.8, 1.0):
        keep = rng.random(len(problem.case_ids)) < share
        extra = rng.uniform(0, 20, problem.n_staff)
        assert_same_problem(problem.restrict(keep, extra),
                            compile_problem(scenario_of(sc, keep, extra), allow_empty=True))


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_a_part_compiles_as_the_scenario_of_those_cases(path):
    """Groups cut by the part, conflicts, holders and new cases alike: same items, classes, edges."""
    assert_restrict_is_a_fresh_compile(balancer.load_scenario(path), seed=0)


def test_a_part_with_pooled_conflicts_compiles_as_the_scenario_of_those_cases(monkeypatch, tmp_path):
    monkeypatch.setattr(balancer.problem, "POOL_MIN_STAFF", 2)
    sc = conflicted_scenario(tmp_path)
    assert len(compile_problem(sc).pooled_item) > 0
    assert_restrict_is_a_fresh_compile(sc, seed=1)


@pytest.mark.parametrize("name", ["rebalance.yaml", "groups-and-conflicts.yaml"])
def test_the_problem_says_what_the_scenario_says(name):
    sc = balancer.load_scenario(ROOT / "scenarios" / name)
    p = compile_problem(sc)
    cases, staff, types = sc.cases, sc.staff, sc.model.case_types
    assert p.case_holder_id.tolist() == [None if pd.isna(h) else h for h in cases["assigned_to"]]
    assert (p.staff_ids[p.case_holder[p.case_holder >= 0]] == cases["assigned_to"].dropna()).all()
    assert p.case_group.tolist() == [None if pd.isna(g) else g for g in cases["group"]]
    assert p.case_excluded.tolist() == list(cases["excluded"])
    assert p.type_ids.tolist() == [t.id for t in types]
    assert p.type_specialisation.tolist() == [t.specialisation for t in types]
    assert p.type_min_grade.tolist() == [t.min_grade for t in types]
    assert p.type_specialists.tolist() == [
        len(staff) if t.specialisation is None else sum(t.specialisation in s for s in staff["specialisations"])
        for t in types]
    assert np.array_equal(p.type_eligible, type_eligibility(sc, staff_capacity(sc)))
    assert p.type_ids[p.type_index(cases["type"])].tolist() == cases["type"].tolist()
