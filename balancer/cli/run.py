"""`validate`, `run` and `frontier`: one scenario, checked, drawn and recorded, or its move budgets."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from balancer.cli import show
from balancer.cli.app import (OperatorOption, OutOption, QuietOption, RegisterOption, ScenarioArg, SetOption,
                              VariantOption, chosen_seed, command, console, echo, load, read_text, say)
from balancer.checks import has_errors
from balancer.drawing import draw, open_commitments, pre_solve_findings, revealing
from balancer.errors import InputError, Outcome
from balancer.io import FORMATS, check_outputs, write_folder
from balancer.register import OpenCommitments, RedrawWithoutReason, current_operator, register_location
from balancer.scenario.bounds import MAX_ERRORS


class Format(str, Enum):
    parquet = "parquet"
    xlsx = "xlsx"


@command()
def validate(scenario: ScenarioArg, variant: VariantOption = None, set_: SetOption = None) -> Outcome:
    """Check a scenario file and the files it references (every error found, up to 20), then make the
    checks `run` makes before solving, so that a valid scenario is one `run` does not call infeasible."""
    sc = load(scenario, variant, set_, max_errors=MAX_ERRORS)
    found = pre_solve_findings(sc)
    show.findings(found, quiet=False)
    if has_errors(found):
        say(Outcome.INFEASIBLE, f"{scenario}: the files are valid, but the cases cannot be allocated (see above)")
        return Outcome.INFEASIBLE
    cases = f"{len(sc.cases)} cases" if len(sc.cases) else "no cases yet (a start for `intake`, or for `staffing`)"
    console.print(f"{scenario}: valid — {len(sc.staff)} staff, {cases}, {len(sc.model.case_types)} case types.")
    return Outcome.DONE


@command()
def run(
    scenario: ScenarioArg,
    out: OutOption,
    fmt: Annotated[Optional[list[Format]], typer.Option(
        "--format", help="Also write the tables in this format (repeatable); CSV is always written.")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Seed for the draw; default: the policy's, else a fresh one from the OS.", min=0)] = None,
    probabilities: Annotated[Optional[Path], typer.Option(
        help="Also write the whole class × prosecutor probability table here (.csv, .parquet or .xlsx).")] = None,
    variant: VariantOption = None,
    set_: SetOption = None,
    register: RegisterOption = None,
    operator: OperatorOption = None,
    reason: Annotated[Optional[str], typer.Option(
        help="Why these inputs are drawn again; required when they were drawn before.")] = None,
    reveal: Annotated[Optional[list[Path]], typer.Option(
        "--reveal", "--seed-file", help="A sealed secret `balancer commit` wrote (repeat for each party): the "
        "seed is derived from every open commitment to these inputs.")] = None,
    public_value: Annotated[Optional[str], typer.Option(
        help="The public value the commitments named, as published (e.g. the lottery numbers).")] = None,
    commitment: Annotated[Optional[int], typer.Option(hidden=True, help="Deprecated: the sealed files name it.")] = None,
    moves_frontier: Annotated[bool, typer.Option(
        "--moves-frontier", hidden=True, help="Deprecated: use `balancer frontier`.")] = False,
    moves_step: Annotated[int, typer.Option(hidden=True, min=1)] = 10,
    quiet: QuietOption = False,
) -> Outcome:
    """Balance the backlog, draw one assignment at random, record it in the register, write the plan."""
    if moves_frontier:
        echo("warning: `balancer run --moves-frontier` is deprecated; use `balancer frontier "
                   "SCENARIO --out DIR [--step N]`", err=True)
        return _frontier(scenario, out, moves_step, quiet, variant, set_)
    if probabilities is not None and probabilities.suffix.lstrip(".") not in FORMATS:
        raise InputError(f"--probabilities {probabilities}: expected a file name ending in "
                         f"{', '.join('.' + f for f in FORMATS)}")
    check_outputs(out, probabilities)  # before the scenario is loaded: a bad --out fails fast
    sc = load(scenario, variant, set_)
    location = register_location(register)
    ceremony = committed(sc, open_commitments(location, sc), reveal or [], public_value, seed, reason)
    if commitment is not None and commitment not in (ceremony or {}).get("commitments", []):
        raise InputError(f"commitment {commitment} is not among those this draw reveals")
    formats = ["csv", *(f.value for f in fmt or [])]
    try:
        drawn = draw(sc, out, register=location, operator=operator or current_operator(), reason=reason,
                     seed=seed, ceremony=ceremony, formats=formats, probabilities=probabilities, vet_seed=chosen_seed)
    except (RedrawWithoutReason, OpenCommitments) as e:
        raise InputError(f"{e} Use --reason") from None
    result, record = drawn.result, drawn.record
    show.findings(result.findings, quiet)
    if record is None:
        say(Outcome.INFEASIBLE, f"diagnosis written to {out / 'summary.json'}")
        return Outcome.INFEASIBLE
    if record.abandoned:
        echo(f"ABANDONED: commitments {', '.join(map(str, record.abandoned))} to these inputs were not "
             f"used; recorded with the reason given: {record.reason}", err=True)
    if record.redraw_of:
        echo(f"RE-DRAW: these inputs were drawn before (register records "
                   f"{', '.join(map(str, record.redraw_of))}); reason given: {record.reason}", err=True)
    if not quiet:
        show.plan(result, record.to_dict())
        console.print(f"seed {result.seed} — draw recorded as record {record.id} in "
                      f"{record.register} — plan written to {out}/")
    return Outcome.DONE


@command()
def frontier(
    scenario: ScenarioArg,
    out: OutOption,
    step: Annotated[int, typer.Option(help="Budget step, in cases.", min=1)] = 10,
    variant: VariantOption = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
) -> Outcome:
    """Rebalancing: tabulate and chart what each move budget buys (frontier.csv, frontier.png).
    Nothing is drawn and nothing is recorded."""
    return _frontier(scenario, out, step, quiet, variant, set_)


def _frontier(scenario: Path, out: Path, step: int, quiet: bool, variant, set_) -> Outcome:
    from balancer.frontier import moves_frontier, write_frontier  # matplotlib only here

    check_outputs(out)  # before the budgets are solved: a folder of this frontier's files, whole
    sc = load(scenario, variant, set_)
    found = moves_frontier(sc, step=step)
    show.findings(found.findings, quiet)
    if found.table is None:
        say(Outcome.INFEASIBLE, "no budget can help (see the findings above)")
        return Outcome.INFEASIBLE
    write_folder(out, lambda tmp: write_frontier(found, sc, tmp))
    if not quiet:
        show.frontier(found, sc.name, step, [out / "frontier.csv", out / "frontier.png"])
    return Outcome.DONE


def committed(sc, opened: list, reveal: list[Path], public_value: str | None, seed: int | None,
              reason: str | None) -> dict | None:
    """The ceremony a draw of `sc` takes part in (`balancer.drawing.revealing`), the sealed files
    read and the errors worded for the command line."""
    if seed is not None and (reveal or public_value is not None):
        raise InputError("--seed and --reveal/--public-value exclude each other: a committed draw's seed is "
                         "derived from the commitments")
    try:
        return revealing(sc, opened, {str(path): read_text(path) for path in reveal}, public_value, reason)
    except OpenCommitments as e:
        raise InputError(f"{e} Use --reveal FILE… (and --public-value), or --reason") from None
