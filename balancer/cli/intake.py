"""`intake`: new cases allocated day by day against current loads, each day recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from balancer.cli import show
from balancer.cli.app import (OperatorOption, OutOption, QuietOption, RegisterOption, SetOption,
                              VariantOption, chosen_seed, command, console, load, say)
from balancer.errors import InputError, Outcome
from balancer.io import check_outputs
from balancer.pipeline import Status
from balancer.register import current_operator, register_location


@command()
def intake(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file: staff, held cases, policy.")],
    new_cases: Annotated[Path, typer.Argument(
        help="Table of new cases (.csv/.xlsx/.parquet), with a `date` column for daily batches.")],
    out: OutOption,
    sheet: Annotated[Optional[str], typer.Option(
        help="The sheet of an .xlsx new-cases workbook that holds them (needed when several hold values).")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Seed the days' seeds are derived from; default: fresh ones.", min=0)] = None,
    variant: VariantOption = None,
    set_: SetOption = None,
    register: RegisterOption = None,
    operator: OperatorOption = None,
    reason: Annotated[Optional[str], typer.Option(help="Why days drawn before are drawn again.")] = None,
    quiet: QuietOption = False,
) -> Outcome:
    """Allocate new cases day by day against current loads, with the same balance and lottery;
    every day's draw is recorded in the register."""
    from balancer.drawing import DaysDrawnBefore, intake as take
    from balancer.scenario import load_new_cases

    check_outputs(out)  # before the scenario is loaded: a bad --out fails fast
    sc = load(scenario, variant, set_)
    cases, name, sha = load_new_cases(new_cases, sc, sheet)
    try:
        taken = take(sc, cases, out, file=name, sha256=sha, register=register_location(register),
                     operator=operator or current_operator(), reason=reason, seed=seed, vet_seed=chosen_seed)
    except DaysDrawnBefore as e:
        raise InputError(f"{e.problem} Use --reason") from None
    result = taken.intake
    if result.days:
        show.findings(result.days[-1].findings, quiet)
    if result.status is Status.INFEASIBLE:
        say(Outcome.INFEASIBLE, f"on {result.days[-1].date}: diagnosis in {out / 'summary.json'}; "
                                "the days before it are written")
        return Outcome.INFEASIBLE
    if not quiet and not result.days:
        console.print(f"no new cases: nothing drawn or recorded — written to {out}/")
    elif not quiet:
        days = result.days_table()
        console.print(f"{len(days)} day(s), {int(days['cases'].sum())} new case(s); highest utilisation "
                      f"after the last day {days['max_utilisation'].iloc[-1]:.1%} (target "
                      f"{days['target_max_utilisation'].iloc[-1]:.1%}); recorded in {taken.register} "
                      f"— written to {out}/")
    return Outcome.DONE
