"""The whole run as one call: compile → check → balance → design → draw → plan.

Every step is a plain function in its own module; this only orders them, times them and keeps
what each produced, so the CLI, the batch runner and Python users share one path.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import Enum
from importlib.metadata import version
from typing import Callable

import numpy as np
import pandas as pd

from balancer import balance as balance_step
from balancer import lottery, rebalance
from balancer.limits import DAY_MIP_EDGES, MIP_EDGES, IntegralLimit, integral_limit
from balancer.checks import Finding, Severity, check, has_errors, over_capacity_after_moves
from balancer.plan import Plan, make_plan, rebalanced_plan
from balancer.problem import Problem, compile_problem
from balancer.registry import STEP_NAMES, ordered
from balancer.scenario import Scenario
from balancer.solver import QP_TOLERANCE, SolverStatus, reduced_tolerances, worst


class SeedSource(str, Enum):
    """Where a draw's seed came from: recorded with every draw, because a seed someone picked
    (after previewing what it gives) is how a lottery is steered."""

    OS = "os"
    """Fresh from the operating system's CSPRNG at the draw: nobody knew it before."""
    COMMITMENT = "commitment"
    """Derived from secrets committed before the draw by one or more parties (`balancer commit`)."""
    PUBLIC = "public"
    """Derived from committed secrets (if any) and a public value named before the draw and
    published after it (RFC 3797): nobody in the office could know it in advance."""
    OPERATOR = "operator"
    """Given by a person: `--seed` or `policy.seed`. A recorded draw needs a reason for it."""


SEED_SOURCE_SAID = {
    SeedSource.OS: "fresh from the operating system's random generator at the draw",
    SeedSource.COMMITMENT: "derived from secrets committed before the draw",
    SeedSource.PUBLIC: "derived from commitments and a public value published after the draw",
    SeedSource.OPERATOR: "chosen by a person (flagged as such in the register)",
}
"""Each seed source in plain words, for readers of the workbook and of `balancer explain`."""


def seed_source(scenario: Scenario, seed: int | None) -> SeedSource:
    """Who chose the seed `solve(scenario, seed=seed)` will use (a commitment says so itself)."""
    return SeedSource.OPERATOR if seed is not None or scenario.policy.seed is not None else SeedSource.OS


class Status(str, Enum):
    DONE = "done"
    """A plan was drawn."""
    INFEASIBLE = "infeasible"
    """The pre-solve checks found the scenario impossible; `findings` say why."""


@dataclass
class Result:
    scenario: Scenario
    status: Status
    seed: int
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)
    problem: Problem | None = None
    balance: balance_step.Balance | None = None
    limit: IntegralLimit | None = None
    """The best whole-item balance, bracketed: what a draw is judged against."""
    design: lottery.Design | None = None
    drawn: lottery.Drawn | None = None
    """The draw of `pool`, with each prosecutor's leaf step (what its load bound rests on)."""
    plan: Plan | None = None
    pool: Problem | None = None
    """What the lottery drew: `problem` itself, or after rebalancing the new and released cases."""
    selection: rebalance.Selection | None = None
    """Rebalancing only: how many held cases of each (class, holder) group move."""
    moves: pd.DataFrame | None = None
    """Rebalancing only: one row per case that changes hands (moves.csv)."""
    rebalance: dict | None = None
    """Rebalancing only: moves, budget and utilisation before and after (summary.json)."""
    seed_source: SeedSource = SeedSource.OS
    """Where the seed came from (see `SeedSource`)."""

    @property
    def solver_steps(self) -> dict[str, SolverStatus]:
        """The solver status of each step that solved something: `balance`, `design` and, when
        rebalancing, `select`."""
        steps = {"balance": self.balance, "design": self.design, "select": self.selection}
        return {step: made.solver_status for step, made in steps.items() if made is not None}

    @property
    def solver_status(self) -> SolverStatus | None:
        """The worst of `solver_steps`: how exact the run's optimisation is (None: none ran)."""
        steps = self.solver_steps
        return worst(*steps.values()) if steps else None

    @property
    def metrics(self) -> dict:
        return self.plan.metrics if self.plan is not None else {}

    def summary(self, register: dict | None = None) -> dict:
        """What summary.json holds (README, "Outputs"); `register`: where the draw was recorded
        (`balancer.register.Recorded.to_dict()`; the pipeline itself records nothing)."""
        sc = self.scenario
        return {
            "scenario": sc.name,
            "description": sc.description,
            "inputs": sc.inputs,
            "inputs_sha256": inputs_digest(sc.inputs),
            "canonical_sha256": sc.canonical_sha256,
            "seed": self.seed,
            "seed_source": self.seed_source.value,
            "version": package_version(),
            "status": self.status.value,
            "policy": sc.policy.recorded(),
            "applied": sc.applied(),
            "metrics": ordered(self.metrics),
            "findings": [f.to_dict() for f in self.findings],
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
            "limits": self.limit.to_dict() if self.limit is not None else None,
            "solver": ({**{step: s.value for step, s in self.solver_steps.items()},
                        "status": self.solver_status.value} if self.solver_steps else None),
            "register": register,
            **({"rebalance": self.rebalance} if self.rebalance is not None else {}),
        }


SOLVED_STEPS = {
    "select": "the rebalancing selection (how many held cases move)",
    "balance": "the balance (the leximin targets every load is judged against)",
    "design": "the lottery design (each case's probabilities)",
}


def solver_findings(steps: dict[str, SolverStatus]) -> list[Finding]:
    """A warning when a step's optimum is only good to the solver's reduced tolerances."""
    almost = [step for step, status in steps.items() if status is SolverStatus.ALMOST_SOLVED]
    if not almost:
        return []
    reduced = reduced_tolerances()
    return [Finding(
        code="solver-almost-solved", severity=Severity.WARNING,
        message=(f"The QP solver stopped short of its tolerance ({QP_TOLERANCE:g}) on "
                 f"{' and '.join(SOLVED_STEPS[step] for step in almost)}: that optimum holds only to "
                 f"its reduced tolerances (gap {reduced['gap_rel']:g}, feasibility "
                 f"{reduced['feasibility']:g}), so what it decided may be off the exact optimum by "
                 "about that much. The draw is still exactly the designed lottery."),
        numbers={"steps": almost, "tolerance": QP_TOLERANCE, "reduced_tolerances": reduced},
    )]


def package_version() -> str:
    try:
        return version("balancer")
    except Exception:  # running from a source tree that was never installed
        return "unknown"


def inputs_digest(inputs: dict[str, str]) -> str:
    """One SHA-256 over every input file's own hash (name-sorted): these files, byte for byte. Not
    what re-draws are recognised by: a renamed or reformatted file changes it (that key is
    `Scenario.canonical_sha256`)."""
    return hashlib.sha256(json.dumps(sorted(inputs.items())).encode()).hexdigest()


def fresh_seed() -> int:
    """A seed nobody can predict (the OS's CSPRNG); always recorded with the result."""
    return secrets.randbits(64)


def solve(scenario: Scenario, *, seed: int | None = None, incremental: bool = False,
          source: SeedSource | None = None, ahead: balance_step.Ahead | None = None) -> Result:
    """Run every step after loading. `seed` beats `policy.seed`; neither: a fresh one.
    `incremental`: one batch of a series (daily intake), see `lottery.design(at_share=)`.
    `source`: where a given `seed` came from (default: `seed_source`, i.e. a person).
    `ahead`: work expected later in the period, balanced with this batch (`balance.leximin`)."""
    policy = scenario.policy
    source = source or seed_source(scenario, seed)
    if seed is None:
        seed = policy.seed if policy.seed is not None else fresh_seed()
    timings: dict[str, float] = {}
    hard = policy.capacity == "hard"

    with _timed(timings, "compile"):
        problem = compile_problem(scenario)
    with _timed(timings, "check"):
        findings = check(problem, hard_capacity=hard)
    result = Result(scenario, Status.INFEASIBLE, seed, findings, timings, problem, seed_source=source)
    if has_errors(findings):
        return result
    rng = np.random.default_rng(seed)
    hold = rebalance.holding(problem)
    pool = problem
    if hold.any:
        with _timed(timings, "select"):
            result.selection = rebalance.select(problem, hold, policy.moves)
            released = rebalance.released_items(problem, hold, result.selection, rng)
            pool = rebalance.pool_problem(problem, hold, released)
        if hard:
            findings += over_capacity_after_moves(pool)
    with _timed(timings, "balance"):
        result.balance = balance_step.leximin(pool, ahead)
        if incremental:
            pool, result.balance = lottery.busy_only(pool, result.balance)
    result.pool = pool
    with _timed(timings, "limit"):
        result.limit = integral_limit(pool, result.balance, mip_max_edges=DAY_MIP_EDGES if incremental else MIP_EDGES)
    known = np.isfinite(result.limit.upper)  # False only if no whole assignment was found
    with _timed(timings, "design"):
        result.design = lottery.design(
            pool, result.balance, tolerance=policy.tolerance,
            max_probability=policy.max_probability, hard_capacity=hard, at_share=incremental,
            integral_gap=result.limit.above_target if known else 0.0,
            integral_max=result.limit.upper if known else None,
        )
    findings += solver_findings(result.solver_steps)
    with _timed(timings, "draw"):
        result.drawn = lottery.draw_traced(pool, result.design, rng)
        item_staff = result.drawn.item_staff
    with _timed(timings, "plan"):
        result.plan = make_plan(pool, result.balance, result.design, item_staff, result.limit)
        if hold.any:
            result.plan, result.moves, result.rebalance = rebalanced_plan(
                problem, hold, released, result.selection, result.balance, result.plan, policy.moves)
    result.plan, result.moves = in_file_order(scenario, result.plan, result.moves)
    result.status = Status.DONE
    return result


def in_file_order(scenario: Scenario, plan: Plan, moves: pd.DataFrame | None) -> tuple[Plan, pd.DataFrame | None]:
    """The plan's tables with their rows in the scenario's order. The problem is compiled in id order
    (so that the draw does not depend on row order), but people read the outputs next to their files."""
    cases, staff = scenario.cases["id"], scenario.staff["id"]
    a, s = plan.assignments, plan.staff
    def same(rows: pd.Series, ids: pd.Series) -> bool:
        return np.array_equal(rows.to_numpy(dtype=object), ids.to_numpy(dtype=object))

    if same(a["case_id"], cases) and same(s["staff_id"], staff):  # files in id order: nothing to do
        return plan, moves
    a = a.iloc[pd.Index(a["case_id"]).get_indexer(cases)].reset_index(drop=True)
    s = s.iloc[pd.Index(s["staff_id"]).get_indexer(staff)].reset_index(drop=True)
    if moves is not None:
        moves = moves.iloc[np.argsort(pd.Index(cases).get_indexer(moves["case_id"]), kind="stable")]
        moves = moves.reset_index(drop=True)
    return replace(plan, assignments=a, staff=s), moves


PROGRESS: ContextVar[Callable[[str], None] | None] = ContextVar("progress", default=None)
"""Told the name of each step as it starts (`balancer.registry.STEPS`), where a caller sets it: a
web page shows how far a long solve has come without the steps knowing who asks."""


def tell_progress(step: str) -> None:
    if (tell := PROGRESS.get()) is not None:
        tell(step)


@contextmanager
def _timed(timings: dict[str, float], step: str):
    if step not in STEP_NAMES:  # every step is declared once, in balancer.registry
        raise ValueError(f"undeclared step {step!r}")
    tell_progress(step)
    t0 = time.perf_counter()
    yield
    timings[step] = time.perf_counter() - t0
