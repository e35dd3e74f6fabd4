"""The move-budget frontier: what each budget of moved cases buys in balance, as a table and a chart.

For budgets 0, step, 2·step, … up to the moves an unlimited budget makes, the fluid profile
`balancer run` would target (its max, min and spread) and the lowest max utilisation any choice of
that many moves reaches. Forced moves (holders no longer eligible) are made at every budget.
The axis is cases, so a policy's `max_hours` is left out (each row says the hours it moves);
a `price` still applies, as it would in `run`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from balancer import rebalance
from balancer.checks import Finding, check, has_errors
from balancer.errors import InputError
from balancer.io import atomic_write, write_table
from balancer.problem import compile_problem
from balancer.scenario import Scenario

ROUND_STEPS = (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


@dataclass(frozen=True)
class Frontier:
    table: pd.DataFrame | None
    """One row per budget; None when the checks found the scenario impossible."""
    step: int
    """The budget step used (wider than asked when there would be too many points)."""
    findings: list[Finding]


def moves_frontier(scenario: Scenario, step: int = 10, max_points: int = 41) -> Frontier:
    """The trade-off table for `scenario` (which must hold cases)."""
    if scenario.cases["assigned_to"].isna().all():
        raise InputError("no case has a holder, so there is nothing to rebalance",
                         file=scenario.path, field="cases", expected="cases with assigned_to")
    problem = compile_problem(scenario)
    findings = check(problem, hard_capacity=scenario.policy.capacity == "hard")
    if has_errors(findings):
        return Frontier(None, step, findings)
    hold = rebalance.holding(problem)
    moves = scenario.policy.moves.model_copy(update={"max": None, "max_hours": None})
    end = math.ceil(rebalance.moves_needed(problem, hold, moves) - 1e-6)
    step = _step(end, step, max_points)
    budgets = list(range(0, end + step, step)) if end > 0 else [0]
    table = rebalance.frontier(problem, hold, moves, budgets)
    moved = ["moved_cases", "moved_hours"]  # solver noise (1e-6 of an hour) is not a move
    table[moved] = table[moved].mask(table[moved].abs() < 1e-4, 0.0).round(6)
    return Frontier(table, step, findings)


def _step(end: int, step: int, max_points: int) -> int:
    """`step`, or the smallest round step above it that keeps the table within max_points rows."""
    if math.ceil(end / step) + 1 <= max_points:
        return step
    for wider in ROUND_STEPS:
        if wider > step and math.ceil(end / wider) + 1 <= max_points:
            return wider
    return math.ceil(end / (max_points - 1))


def write_frontier(frontier: Frontier, scenario: Scenario, out_dir: str | Path) -> list[Path]:
    """frontier.csv and frontier.png in out_dir, each written whole or not at all."""
    out = Path(out_dir)
    write_table(frontier.table, out / "frontier.csv")
    atomic_write(out / "frontier.png", lambda tmp: _chart(frontier.table, scenario, tmp))
    return [out / "frontier.csv", out / "frontier.png"]


def _chart(table: pd.DataFrame, scenario: Scenario, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 6), height_ratios=(2, 1))
    x = table["budget"]
    top.plot(x, table["max_utilisation"], marker="o", label="highest utilisation (what run targets)")
    top.plot(x, table["lowest_max_utilisation"], linestyle="--", label="lowest highest reachable")
    top.plot(x, table["min_utilisation"], marker=".", label="lowest utilisation")
    bottom.plot(x, table["spread"], marker="o", color="tab:red", label="spread (max − min)")
    budget = scenario.policy.moves.max
    for ax in (top, bottom):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
        if budget is not None:
            ax.axvline(budget, color="grey", linestyle=":")
    if budget is not None:
        top.annotate(f"policy: {budget}", (budget, top.get_ylim()[1]), fontsize="small",
                     ha="left", va="top", color="grey")
    top.set_title(f"{scenario.name}: balance bought by moving cases")
    bottom.set_xlabel("cases that may move for balance (forced moves come on top)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
