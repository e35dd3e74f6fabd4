"""The move-budget frontier: a table a planner can choose a budget from, and its chart."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balancer
from balancer.balance import leximin
from balancer.cli import app
from balancer.frontier import _step, moves_frontier
from balancer.problem import compile_problem
from tests.conftest import ROOT

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
    done = CliRunner().invoke(app, ["run", str(REBALANCE), "--out", str(out), "--moves-frontier", "--moves-step", "40"])
    assert done.exit_code == 0, done.output
    assert "lowest max" in done.output and "written:" in done.output
    table = pd.read_csv(out / "frontier.csv")
    assert table["budget"].tolist()[:3] == [0, 40, 80]
    assert (out / "frontier.png").read_bytes()[:8] == PNG
    import matplotlib.image as mpimg
    height, width = mpimg.imread(out / "frontier.png").shape[:2]
    assert width > 400 and height > 300
    assert not (tmp_path / "balancer-register.sqlite").exists()
    assert not (out / "assignments.csv").exists()


def test_cli_without_held_cases_is_invalid_input(tmp_path):
    done = CliRunner().invoke(app, ["run", str(ROOT / "scenarios" / "demo-office.yaml"), "--out", str(tmp_path),
                                    "--moves-frontier"])
    assert done.exit_code == 2
    assert "assigned_to" in done.output and "Traceback" not in done.output
