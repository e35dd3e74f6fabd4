"""`validate`, `run` and `frontier`: one scenario, checked, drawn and recorded, or its move budgets."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from balancer.cli import show
from balancer.cli.app import (OperatorOption, OutOption, QuietOption, RegisterOption, ScenarioArg, SetOption,
                              VariantOption, chosen_seed, command, console, load, say)
from balancer.checks import check, has_errors
from balancer.errors import InputError, Outcome
from balancer.io import FORMATS, write_outputs, write_table
from balancer.pipeline import SeedSource, Status, seed_source, solve
from balancer.plan import probability_table
from balancer.problem import compile_problem
from balancer.register import (RedrawWithoutReason, Register, current_operator, record_draw,
                               register_location)
from balancer.scenario.bounds import MAX_ERRORS


class Format(str, Enum):
    parquet = "parquet"
    xlsx = "xlsx"


@command()
def validate(scenario: ScenarioArg, variant: VariantOption = None, set_: SetOption = None) -> Outcome:
    """Check a scenario file and the files it references (every error found, up to 20), then make the
    checks `run` makes before solving, so that a valid scenario is one `run` does not call infeasible."""
    sc = load(scenario, variant, set_, max_errors=MAX_ERRORS)
    found = [] if sc.cases.empty else check(compile_problem(sc), hard_capacity=sc.policy.capacity == "hard")
    show.findings(found, quiet=False)
    if has_errors(found):
        say(Outcome.INFEASIBLE, f"{scenario}: the files are valid, but the cases cannot be allocated (see above)")
        return Outcome.INFEASIBLE
    console.print(f"{scenario}: valid — {len(sc.staff)} staff, {len(sc.cases)} cases, "
                  f"{len(sc.model.case_types)} case types.")
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
    commitment: Annotated[Optional[int], typer.Option(
        help="Use the seed committed in this register record (needs --seed-file).")] = None,
    seed_file: Annotated[Optional[Path], typer.Option(help="The sealed seed file `balancer commit` wrote.")] = None,
    moves_frontier: Annotated[bool, typer.Option(
        "--moves-frontier", hidden=True, help="Deprecated: use `balancer frontier`.")] = False,
    moves_step: Annotated[int, typer.Option(hidden=True, min=1)] = 10,
    quiet: QuietOption = False,
) -> Outcome:
    """Balance the backlog, draw one assignment at random, record it in the register, write the plan."""
    if moves_frontier:
        typer.echo("warning: `balancer run --moves-frontier` is deprecated; use `balancer frontier "
                   "SCENARIO --out DIR [--step N]`", err=True)
        return _frontier(scenario, out, moves_step, quiet, variant, set_)
    if probabilities is not None and probabilities.suffix.lstrip(".") not in FORMATS:
        raise InputError(f"--probabilities {probabilities}: expected a file name ending in "
                         f"{', '.join('.' + f for f in FORMATS)}")
    if (commitment is None) != (seed_file is None):
        raise InputError("--commitment and --seed-file go together: the seed file holds the committed seed")
    sc = load(scenario, variant, set_)
    salt, source = None, seed_source(sc, seed)
    if commitment is not None:
        seed, salt = _read_seed_file(seed_file, commitment)
        source = SeedSource.COMMITMENT
    result = solve(sc, seed=seed, source=source)
    formats = ["csv", *(f.value for f in fmt or [])]
    show.findings(result.findings, quiet)
    if result.status is Status.INFEASIBLE:
        write_outputs(result, out, formats)
        say(Outcome.INFEASIBLE, f"diagnosis written to {out / 'summary.json'}")
        return Outcome.INFEASIBLE
    chosen_seed(source, reason)  # before anything is recorded or written
    # Recorded first, written after: a crash in between leaves a recorded draw without files,
    # never files that claim a draw the register does not hold.
    with Register(register_location(register)) as reg:
        try:
            record = record_draw(reg, result, operator=operator or current_operator(), reason=reason,
                                 commitment_id=commitment, seed_salt=salt)
        except RedrawWithoutReason as e:
            raise InputError(f"{e} Use --reason") from None
    write_outputs(result, out, formats, record=record)
    if probabilities is not None:
        write_table(probability_table(result.pool, result.design), probabilities)  # what was drawn
    if record.redraw_of:
        typer.echo(f"RE-DRAW: these inputs were drawn before (register records "
                   f"{', '.join(map(str, record.redraw_of))}); reason given: {record.reason}", err=True)
    if not quiet:
        show.plan(result)
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

    sc = load(scenario, variant, set_)
    found = moves_frontier(sc, step=step)
    show.findings(found.findings, quiet)
    if found.table is None:
        say(Outcome.INFEASIBLE, "no budget can help (see the findings above)")
        return Outcome.INFEASIBLE
    paths = write_frontier(found, sc, out)
    if not quiet:
        show.frontier(found, sc.name, step, paths)
    return Outcome.DONE


def _read_seed_file(path: Path, commitment: int) -> tuple[int, bytes]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seed, salt, made_for = int(data["seed"]), bytes.fromhex(data["salt"]), int(data["commitment"])
    except FileNotFoundError:
        raise InputError(f"{path}: no such seed file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the seed file ({e.strerror or e})") from None
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path}: not a seed file written by `balancer commit` "
                         "(expected JSON with commitment, seed and salt)") from None
    if made_for != commitment:
        raise InputError(f"{path}: this seed file belongs to commitment {made_for}, not {commitment}")
    return seed, salt
