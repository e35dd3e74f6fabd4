"""`staffing`: how many prosecutors a caseload needs, by the formula and by the optimiser."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from balancer import staffing as staffing_model
from balancer.cli import show
from balancer.cli.app import OutOption, ScenarioArg, SetOption, VariantOption, command, echo, load
from balancer.errors import Outcome
from balancer.io import check_outputs, write_folder


@command()
def staffing(
    scenario: ScenarioArg,
    out: OutOption,
    target: Annotated[float, typer.Option(help="Highest utilisation anyone may reach.")] = 0.85,
    sweep: Annotated[Optional[str], typer.Option(
        help="What-if: intake=A:B:STEP, weight.TYPE=A:B:STEP or hours_per_fte=A:B:STEP.")] = None,
    hire_grade: Annotated[Optional[list[str]], typer.Option(
        help="Only these grades may be hired (repeatable) [default: any grade].")] = None,
    time_limit: Annotated[float, typer.Option(
        help="Seconds each solve of each independent part may take; a part stopped there keeps "
             "hires that fit but are not proven fewest (reported as such).")] = staffing_model.DEFAULT_TIME_LIMIT,
    variant: VariantOption = None,
    set_: SetOption = None,
) -> Outcome:
    """Staff needed for the caseload: the plain weighted-caseload formula next to the fewest hires
    that keep everyone at or below --target. Exit 1 when no number of hires is enough, 3 when the
    solver gives no answer (a message, not a traceback)."""
    check_outputs(out)  # before anything is solved: a folder of this plan's files, whole
    sc = load(scenario, variant, set_)
    spec = staffing_model.parse_sweep(sweep, sc) if sweep is not None else None
    result = staffing_model.plan_staffing(sc, target=target, hire_grades=hire_grade, time_limit=time_limit)
    table = (staffing_model.run_sweep(sc, spec, target, hire_grade, time_limit) if spec is not None
             else None)
    write_folder(out, lambda tmp: staffing_model.write_staffing(result, tmp, table))
    show.staffing(result)
    for message in result.findings:
        echo(f"{'finding' if result.feasible else 'infeasible'}: {message}", err=True)
    return Outcome.DONE if result.feasible else Outcome.INFEASIBLE
