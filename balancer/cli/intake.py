"""`intake`: new cases allocated day by day against current loads, each day recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from balancer.cli import show
from balancer.cli.app import (OperatorOption, OutOption, QuietOption, RegisterOption, SetOption,
                              VariantOption, chosen_seed, command, console, load, say)
from balancer.errors import InputError, Outcome
from balancer.io import check_outputs, write_folder, write_intake
from balancer.pipeline import SeedSource, Status
from balancer.register import Register, current_operator, record_draw, register_location


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
    from balancer.intake import batches, day_digests, run_intake
    from balancer.scenario import load_new_cases

    check_outputs(out)  # before anything is drawn or recorded
    sc = load(scenario, variant, set_)
    cases, name, sha = load_new_cases(new_cases, sc, sheet)
    chosen_seed(SeedSource.OPERATOR if seed is not None else SeedSource.OS, reason)
    with Register(register_location(register)) as reg:
        drawn = reg.redraw_counts()  # a day drawn before needs a reason: refuse before anything is recorded
        days = batches(cases)
        keys = day_digests(sc, days)  # hashes the whole scenario: once, for the check and the records
        again = [str(day) for (day, _), key in zip(days, keys) if key in drawn]
        if again and not reason:
            raise InputError(f"these days were drawn before: {', '.join(again)}. Use --reason")
        who = operator or current_operator()
        result = run_intake(sc, cases, file=name, sha256=sha, seed=seed, keys=keys,
                            on_day=lambda day, key, about: record_draw(
                                reg, day, operator=who, reason=reason, inputs_sha256=key, intake=about))
    if result.days:
        show.findings(result.days[-1].findings, quiet)
    write_folder(out, lambda tmp: write_intake(result, tmp))  # whole, after recording
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
                      f"{days['target_max_utilisation'].iloc[-1]:.1%}); recorded in {reg.location} "
                      f"— written to {out}/")
    return Outcome.DONE
