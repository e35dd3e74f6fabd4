"""The move-budget frontier: a table a planner can choose a budget from, and its chart."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balancer
from balancer.balance import leximin
from balancer.checks import has_errors
from balancer.cli import app
from balancer.errors import InputError
from balancer.frontier import _step, moves_frontier
from balancer.problem import compile_problem
from tests.conftest import ROOT, write

REBALANCE = ROOT / "scenarios" / "rebalance.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def office():
    return balancer.load_scenario(REBALANCE)


@pytest.fixture(scope="module")
def frontier(office):
    return moves_frontier(office, step=20)


def test_budgets_rise_by_the_step_and_balance_never_gets_worse(frontier):
    t = frontier.table
    assert t["budget"].tolist() == list(range(0, 20 * len(t), 20))
    assert (t["moved_cases"] <= t["budget"] + 1e-6).all()
    for col in ("max_utilisation", "lowest_max_utilisation", "spread"):
        assert (np.diff(t[col]) <= 1e-6).all(), col
    assert (t["lowest_max_utilisation"] <= t["max_utilisation"] + 1e-6).all()
    assert t["max_utilisation"].iloc[-1] < t["max_utilisation"].iloc[0] - 0.3


def test_the_last_point_is_a_fresh_balance(office, frontier):
    cases = office.cases.assign(assigned_to=None)
    fresh = leximin(compile_problem(dataclasses.replace(office, cases=cases))).target_utilisation
    assert frontier.table["max_utilisation"].iloc[-1] == pytest.approx(np.nanmax(fresh), abs=1e-4)
    assert frontier.table["max_utilisation"].iloc[-2] > np.nanmax(fresh) + 1e-4  # and it takes that many


def test_the_budget_zero_row_is_the_office_as_held(office, frontier):
    """Only forced moves at budget 0: its top is what `run` targets with `moves: {max: 0}`."""
    limited = dataclasses.replace(office, policy=office.policy.model_copy(
        update={"moves": office.policy.moves.model_copy(update={"max": 0})}))
    run = balancer.solve(limited, seed=1)
    assert frontier.table["max_utilisation"].iloc[0] == pytest.approx(run.metrics["target_max_utilisation"], abs=1e-4)


def test_the_step_widens_to_a_round_number():
    assert _step(100, 10, 41) == 10
    assert _step(1000, 10, 41) == 25
    assert _step(10_000, 10, 41) == 250
    assert _step(10**7, 10, 41) == 250_000


def test_cli_writes_table_and_chart_and_records_nothing(tmp_path):
    out = tmp_path / "frontier"
    done = CliRunner().invoke(app, ["frontier", str(REBALANCE), "--out", str(out), "--step", "40"])
    assert done.exit_code == 0, done.output
    assert "lowest max" in done.output and "written:" in done.output
    table = pd.read_csv(out / "frontier.csv")
    assert table["budget"].tolist()[:3] == [0, 40, 80]
    assert (out / "frontier.png").read_bytes()[:8] == PNG
    import matplotlib.image as mpimg
    height, width = mpimg.imread(out / "frontier.png").shape[:2]
    assert width > 400 and height > 300
    assert not (tmp_path / "register.sqlite").exists()  # the default register ($BALANCER_REGISTER)
    assert not (out / "assignments.csv").exists()


def test_cli_without_held_cases_is_invalid_input(tmp_path):
    done = CliRunner().invoke(app, ["run", str(ROOT / "scenarios" / "demo-office.yaml"), "--out", str(tmp_path),
                                    "--moves-frontier"])
    assert done.exit_code == 2
    assert "assigned_to" in done.output and "Traceback" not in done.output


# Small offices: A holds every case, B and C hold none; D (no time) may hold cases it must give up.
SMALL = """\
name: small-{name}
case_types:
  - {{id: general, weight_hours: 1}}
  - {{id: special, weight_hours: 1, specialisation: s}}
staff:
  - {{id: A, capacity_hours: 30}}
  - {{id: B, capacity_hours: 30}}
  - {{id: C, capacity_hours: 30}}
  - {{id: D, capacity_hours: 0}}
cases:
{cases}
policy: {{moves: {moves}}}
"""


def small(tmp_path, name, held: dict[str, int], new=0, special=0, moves="{max: 5}"):
    """`held`: cases each prosecutor holds; `new` unheld cases; `special` held cases nobody may take."""
    rows = [f"  - {{id: {who}{i}, type: general, assigned_to: {who}}}" for who, n in held.items() for i in range(n)]
    rows += [f"  - {{id: N{i}, type: general}}" for i in range(new)]
    rows += [f"  - {{id: S{i}, type: special, assigned_to: A}}" for i in range(special)]
    path = write(tmp_path / f"{name}.yaml", SMALL.format(name=name, cases="\n".join(rows), moves=moves))
    return path, balancer.load_scenario(path)


def fresh_max(sc) -> float:
    return float(np.nanmax(leximin(compile_problem(sc)).target_utilisation))


def check_frontier(sc, frontier):
    """The promises every frontier keeps, whatever the office."""
    t, step = frontier.table, frontier.step
    assert t["budget"].tolist() == list(range(0, step * len(t), step))
    assert (t["moved_cases"] <= t["budget"] + 1e-6).all() and (t["moved_cases"] >= 0).all()
    for col in ("max_utilisation", "lowest_max_utilisation"):
        assert (np.diff(t[col]) <= 1e-6).all(), col
    assert (t["lowest_max_utilisation"] <= t["max_utilisation"] + 1e-6).all()
    assert t["max_utilisation"].iloc[-1] == pytest.approx(fresh_max(sc), abs=1e-4)


def test_a_small_office_moves_what_balance_needs_and_no_more(tmp_path):
    _, sc = small(tmp_path, "lopsided", {"A": 80}, new=10)  # 90 hours for 3 × 30: A must give up 50
    frontier = moves_frontier(sc, step=5)
    check_frontier(sc, frontier)
    t = frontier.table
    assert frontier.step == 5 and t["budget"].iloc[-1] == 50
    assert t["moved_cases"].iloc[-1] == pytest.approx(50, abs=1e-2)  # the QP solver's tolerance
    assert t["max_utilisation"].iloc[0] == pytest.approx(80 / 30, abs=1e-4)  # nothing moves at 0
    assert t["max_utilisation"].iloc[-1] == pytest.approx(1.0, abs=1e-4)


def test_too_many_points_widen_the_step_to_a_round_number(tmp_path):
    _, sc = small(tmp_path, "wide", {"A": 80}, new=10)
    narrow = moves_frontier(sc, step=2, max_points=30)  # 26 points: the step stays
    assert narrow.step == 2 and len(narrow.table) == 26
    frontier = moves_frontier(sc, step=1, max_points=30)  # 51 points at step 1: too many
    assert frontier.step == 10 and frontier.table["budget"].tolist() == [0, 10, 20, 30, 40, 50]
    check_frontier(sc, frontier)


def test_forced_moves_come_on_top_of_every_budget(tmp_path):
    """D has no time: its cases move at budget 0 already, and once they have, nothing else needs to."""
    _, sc = small(tmp_path, "leaver", {"A": 10, "B": 10, "C": 10, "D": 15})
    frontier = moves_frontier(sc)
    check_frontier(sc, frontier)
    assert frontier.table["budget"].tolist() == [0]
    assert frontier.table["moved_cases"].iloc[0] == 0  # forced moves are not counted


def test_a_policy_hour_cap_does_not_flatten_the_case_axis(office):
    capped = dataclasses.replace(office, policy=office.policy.model_copy(
        update={"moves": office.policy.moves.model_copy(update={"max": None, "max_hours": 100.0})}))
    frontier = moves_frontier(capped, step=50)
    check_frontier(capped, frontier)
    assert frontier.table["moved_hours"].iloc[-1] > 100


def test_no_held_case_is_invalid_input(tmp_path):
    _, sc = small(tmp_path, "empty", {}, new=9)
    with pytest.raises(InputError) as e:
        moves_frontier(sc)
    assert e.value.field == "cases" and e.value.file == str(sc.path) and "assigned_to" in e.value.expected


def test_an_impossible_office_returns_the_diagnosis(tmp_path):
    path, sc = small(tmp_path, "impossible", {"A": 10}, special=2)
    frontier = moves_frontier(sc)
    assert frontier.table is None and has_errors(frontier.findings)
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--moves-frontier"])
    assert done.exit_code == 1, done.output
    assert "no eligible prosecutor" in done.output and "Traceback" not in done.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_says_when_it_widens_the_step(tmp_path):
    path, _ = small(tmp_path, "cli", {"A": 80}, new=10)
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--moves-frontier", "--moves-step", "1"])
    assert done.exit_code == 0, done.output
    assert "deprecated; use `balancer frontier" in done.output  # the old spelling still works, and says so
    assert "widened from 1 to 10" in done.output
    assert pd.read_csv(out / "frontier.csv")["budget"].tolist() == [0, 10, 20, 30, 40, 50]
    for budget in ("0", "10", "50"):
        assert any(line.split("│")[1:2] == [f" {budget:>6} "] for line in done.output.splitlines()), budget
    assert "small-cli" in done.output and str(out / "frontier.png") in done.output.replace("\n", "")  # long paths wrap
    assert not (tmp_path / "register.sqlite").exists()  # the default register ($BALANCER_REGISTER)
