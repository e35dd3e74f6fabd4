"""Rebalancing: held cases stay unless moving them buys balance, budgets hold, ineligible holders
always lose their cases, and with no budget the balance is a fresh one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import balancer
from balancer.balance import leximin
from balancer import rebalance
from balancer.problem import compile_problem, type_eligibility
from balancer.scenario import Moves
from tests.conftest import ROOT, write
from tests.problems import assert_same_problem

REBALANCE = ROOT / "scenarios" / "rebalance.yaml"
FORCED_HOLDERS = {"P03", "P07"}  # left (fte 0), on leave all quarter
CONFLICTED = "C0018"  # excludes its own holder


def with_moves(sc, **moves):
    return dataclasses.replace(sc, policy=sc.policy.model_copy(update={"moves": Moves(**moves)}))


@pytest.fixture(scope="module")
def office():
    return balancer.load_scenario(REBALANCE)


def eligible_pairs(sc) -> set[tuple[str, str]]:
    """(case, staff) pairs the scenario allows: type eligibility minus exclusions."""
    problem = compile_problem(sc)
    by_type = type_eligibility(sc, problem.capacity)
    pos = {t.id: i for i, t in enumerate(sc.model.case_types)}
    staff = sc.staff["id"].to_numpy(dtype=object)
    return {(c, s) for c, t, excl in zip(sc.cases["id"], sc.cases["type"], sc.cases["excluded"])
            for s in staff[by_type[pos[t]]] if s not in excl}


def check_plan(sc, result):
    """Each case once, only to eligible staff, and the moves table says who moved."""
    a = result.plan.assignments
    assert a["case_id"].tolist() == sc.cases["id"].tolist()
    assert set(zip(a["case_id"], a["staff_id"])) <= eligible_pairs(sc)
    previous = sc.cases["assigned_to"]
    if result.moves is None:  # nothing held: an ordinary run
        assert previous.isna().all() and result.rebalance is None
        return
    moved = previous.notna() & (a["staff_id"] != previous)
    assert sorted(result.moves["case_id"]) == sorted(a["case_id"][moved])
    m = result.rebalance
    assert m["moved_cases"] == len(result.moves) == m["balance_moves"] + m["forced_moves"]
    assert m["held_cases"] == int(previous.notna().sum())


@pytest.mark.parametrize("budget", [0, 1, 7, 40, 200])
def test_the_case_budget_holds(office, budget):
    for seed in range(3):
        result = balancer.solve(with_moves(office, max=budget), seed=seed)
        check_plan(office, result)
        assert result.rebalance["balance_moves"] <= budget
        assert (result.moves["reason"] == "balance").sum() <= budget


@pytest.mark.parametrize("hours", [0.0, 12.5, 150.0])
def test_the_hours_budget_holds(office, hours):
    result = balancer.solve(with_moves(office, max_hours=hours), seed=1)
    check_plan(office, result)
    balance_moves = result.moves[result.moves["reason"] == "balance"]
    assert balance_moves["hours"].sum() <= hours + 1e-9


def test_budget_zero_moves_only_what_must_move(office):
    result = balancer.solve(with_moves(office, max=0), seed=2)
    check_plan(office, result)
    assert set(result.moves["reason"]) == {"holder not eligible"}
    a = result.plan.assignments.set_index("case_id")["staff_id"]
    held = office.cases.set_index("id")["assigned_to"].dropna()
    may_keep = held[~held.isin(FORCED_HOLDERS) & (held.index != CONFLICTED)]
    assert (a[may_keep.index] == may_keep).all()


@pytest.mark.parametrize("moves", [{}, {"max": 0}, {"max": 40}, {"price": 0.3}, {"max_hours": 0.0}])
def test_ineligible_holders_always_lose_their_cases(office, moves):
    result = balancer.solve(with_moves(office, **moves), seed=3)
    held = office.cases.set_index("id")["assigned_to"]
    must = held[held.isin(FORCED_HOLDERS)].index.tolist() + [CONFLICTED]
    moved = result.moves.set_index("case_id")
    assert set(must) <= set(moved.index)
    assert (moved.loc[must, "reason"] == "holder not eligible").all()
    assert (moved.loc[must, "to"] != held[must]).all()
    assert result.rebalance["forced_moves"] == len(must)


def fresh_targets(sc) -> np.ndarray:
    """The leximin profile of the same cases with nobody holding anything."""
    cases = sc.cases.assign(assigned_to=None)
    return leximin(compile_problem(dataclasses.replace(sc, cases=cases))).target_utilisation


def test_an_unlimited_budget_gives_a_fresh_balance(office):
    result = balancer.solve(with_moves(office), seed=4)
    check_plan(office, result)
    assert result.rebalance["selection"] == "fluid"
    target = result.plan.staff["target_utilisation"].to_numpy()
    np.testing.assert_allclose(target, fresh_targets(office), atol=1e-4)
    # ... while keeping far more cases in place than a fresh draw would.
    fresh = balancer.solve(dataclasses.replace(office, cases=office.cases.assign(assigned_to=None)), seed=4)
    kept_fresh = (fresh.plan.assignments["staff_id"] == office.cases["assigned_to"]).sum()
    assert result.rebalance["held_cases"] - result.rebalance["moved_cases"] > 2 * kept_fresh


def test_a_bigger_budget_never_balances_worse(office):
    """The fluid target's top comes down (or stays) as the budget grows, and moves stay within it."""
    tops, moved = [], []
    for budget in (0, 10, 20, 40, 80, None):
        result = balancer.solve(with_moves(office, max=budget), seed=5)
        tops.append(result.metrics["target_max_utilisation"])
        moved.append(result.rebalance["balance_moves"])
    assert all(b <= a + 1e-6 for a, b in zip(tops, tops[1:]))
    assert tops[-1] < tops[0] - 0.05
    assert moved[0] == 0


def test_a_higher_price_moves_fewer_hours(office):
    hours = [balancer.solve(with_moves(office, price=price), seed=6).rebalance["balance_moved_hours"]
             for price in (0.0, 0.1, 0.4, 10.0)]
    assert all(b <= a + 1e-9 for a, b in zip(hours, hours[1:]))
    assert hours[-1] == 0.0 < hours[0]


def test_outputs_name_the_moves(office, tmp_path):
    from typer.testing import CliRunner

    from balancer.cli import app
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["run", str(REBALANCE), "--out", str(out), "--seed", "7", "--reason", "test", "-q",
                                    "--probabilities", str(out / "lottery.csv")])
    assert done.exit_code == 0, done.output
    lottery = pd.read_csv(out / "lottery.csv")  # the lottery of what was drawn: new and released cases
    summary_metrics = pd.read_json(out / "summary.json", typ="series")["metrics"]
    assert lottery["expected_cases"].sum() == pytest.approx(summary_metrics["n_drawn_cases"])
    moves = pd.read_csv(out / "moves.csv")
    assert list(moves.columns) == ["case_id", "from", "to", "hours", "reason"]
    staff = pd.read_csv(out / "staff.csv")
    assert {"held_hours_before", "utilisation_before", "utilisation"} <= set(staff.columns)
    summary = pd.read_json(out / "summary.json", typ="series")
    rb = summary["rebalance"]
    assert rb["utilisation_before"]["max"] > rb["utilisation_after"]["max"]
    assert rb["budget"] == {"max": 40, "max_hours": None, "price": 0.0}
    assert rb["selection"] == "rounded"  # the budget binds
    held_before = office.cases.dropna(subset=["assigned_to"])
    assert staff["held_hours_before"].sum() == pytest.approx(
        compile_problem(office).case_weight[office.cases["assigned_to"].notna().to_numpy()].sum())
    assert len(held_before) == rb["held_cases"]


OFFICE = """\
name: small
case_types:
  - {{id: general, weight_hours: {w_general}}}
  - {{id: special, weight_hours: {w_special}, specialisation: s}}
staff:
{staff}
cases:
{cases}
policy: {{tolerance: {tolerance}, moves: {{max: {budget}}}}}
"""


@st.composite
def small_offices(draw):
    n_staff = draw(st.integers(2, 6))
    caps = draw(st.lists(st.sampled_from([50, 80, 120]), min_size=n_staff, max_size=n_staff))
    special = draw(st.lists(st.booleans(), min_size=n_staff, max_size=n_staff))
    special[0] = True
    staff = [f"  - {{id: P{p}, capacity_hours: {c}, specialisations: [{'s' if s else ''}]}}"
             for p, (c, s) in enumerate(zip(caps, special))]
    n_cases = draw(st.integers(1, 25))
    rows = []
    for c in range(n_cases):
        kind = draw(st.sampled_from(["general", "special"]))
        owners = [p for p in range(n_staff) if kind == "general" or special[p]]
        holder = draw(st.one_of(st.none(), st.sampled_from(owners), st.sampled_from(range(n_staff))))
        held = f", assigned_to: P{holder}" if holder is not None else ""
        rows.append(f"  - {{id: C{c}, type: {kind}{held}}}")
    return OFFICE.format(
        w_general=draw(st.sampled_from([2, 5, 9])), w_special=draw(st.sampled_from([4, 15])),
        staff="\n".join(staff), cases="\n".join(rows), tolerance=draw(st.sampled_from([0.0, 0.1])),
        budget=draw(st.sampled_from([0, 1, 3, "null"])),
    ), draw(st.integers(0, 2**32))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(small_offices())
def test_random_offices_keep_every_promise(tmp_path, case):
    text, seed = case
    sc = balancer.load_scenario(write(tmp_path / "office.yaml", text))
    result = balancer.solve(sc, seed=seed)
    if result.status is not balancer.Status.DONE:
        return
    check_plan(sc, result)
    budget = sc.policy.moves.max
    if result.rebalance is None:
        return
    if budget is not None:
        assert result.rebalance["balance_moves"] <= budget
    else:
        target = result.plan.staff["target_utilisation"].to_numpy()
        np.testing.assert_allclose(target, fresh_targets(sc), atol=1e-4)


def test_hard_capacity_under_a_tight_budget_says_who_stays_over(office):
    """With no moves allowed, nobody can bring P01 (144 % in held cases) under 100 %: the run still
    draws the rest, and a warning names who stays over and by how much."""
    sc = with_moves(office, max=0)
    sc = dataclasses.replace(sc, policy=sc.policy.model_copy(update={"capacity": "hard"}))
    result = balancer.solve(sc, seed=8)
    assert result.status is balancer.Status.DONE  # the office as a whole fits under 100 %
    found = {f.code: f for f in result.findings}
    assert "P01" in found["hard-capacity-needs-more-moves"].numbers["staff"]
    assert found["hard-capacity-needs-more-moves"].numbers["max_utilisation_kept"] > 1.0


def test_batch_sweeps_the_move_budget(tmp_path):
    from typer.testing import CliRunner

    from balancer.cli import app
    out = tmp_path / "runs"
    done = CliRunner().invoke(app, ["batch", str(REBALANCE), "--out", str(out), "-q", "--set", "policy.seed=1",
                                    "--grid", "policy.moves.max=0,10,null"])
    assert done.exit_code == 0, done.output
    rows = pd.read_csv(out / "batch.csv")
    assert rows["balance_moves"][1] <= 10
    assert rows["balance_moves"][0] == 0 and rows["balance_moves"][2] > rows["balance_moves"][1]
    assert (rows["forced_moves"] == rows["forced_moves"][0]).all()
    assert rows["max_utilisation"][2] < rows["max_utilisation_before"][2]  # unlimited: far below
    bad = CliRunner().invoke(app, ["batch", str(REBALANCE), "--out", str(out), "-q", "--set", "policy.moves.cap=3"])
    assert bad.exit_code == 2 and "policy.moves.cap" in pd.read_csv(out / "batch.csv")["error"][0]


@pytest.mark.parametrize("moves", [{"max": 0}, {"max": 40}, {}])
def test_the_pool_is_the_scenario_of_the_drawn_cases_compiled_afresh(office, moves):
    """What the lottery draws: the new and released cases, compiled as a scenario of them alone
    would be (same classes in the same order, so seeded draws do not depend on how the pool is
    built), the cases that stay added to their holders' current load."""
    problem = compile_problem(office)
    hold = rebalance.holding(problem)
    selection = rebalance.select(problem, hold, Moves(**moves))
    released = rebalance.released_items(problem, hold, selection, np.random.default_rng(5))
    pool = rebalance.pool_problem(problem, hold, released)

    stays = (hold.held & ~released)[problem.case_item]
    assert 0 < stays.sum() < len(stays)
    weight = problem.case_weight
    kept = office.cases.assign(hours=weight)[stays].groupby("assigned_to")["hours"].sum()
    staff = office.staff.copy()
    staff["current_load_hours"] = staff["current_load_hours"] + staff["id"].map(kept).fillna(0.0)
    drawn = office.cases[~stays].assign(assigned_to=None).reset_index(drop=True)
    fresh = compile_problem(dataclasses.replace(office, staff=staff, cases=drawn))
    np.testing.assert_allclose(pool.base_load, fresh.base_load, rtol=1e-12)
    assert_same_problem(dataclasses.replace(pool, base_load=fresh.base_load), fresh)
