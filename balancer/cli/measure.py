"""`measure`: case weights and the year value from a time study, written as a workload model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from balancer.cli.app import OutOption, command, echo, wide_console
from balancer.errors import Outcome
from balancer.io import check_outputs, write_folder


@command()
def measure(
    study: Annotated[Path, typer.Argument(help="Time study YAML file.")],
    out: OutOption,
    adjust: Annotated[Optional[list[Path]], typer.Option(
        help="Adjustments YAML (a Delphi round), applied on top of the measured weights; repeatable, "
             "applied in the order given.")] = None,
    compare: Annotated[Optional[Path], typer.Option(
        help="An older workload model: per type, the change and what it does to the FTE need.")] = None,
    target: Annotated[float, typer.Option(help="With --compare: the staffing target utilisation.")] = 0.85,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only warnings.")] = False,
) -> Outcome:
    """Measure case weights (minutes logged ÷ cases) with bootstrap intervals and the year value
    from a time study; write a workload model `run` and `staffing` use as it is."""
    from balancer.measure import compare as comparing
    from balancer.measure import load_adjustments, load_study, measure as measuring, write_measure

    check_outputs(out)  # before any work: a folder of this study's files, whole
    data = load_study(study)
    rounds = []
    for path in adjust or []:
        found_round, digest = load_adjustments(path, data.type_ids)
        data.inputs[str(path)] = digest
        rounds.append((found_round, str(path)))
    found = measuring(data, rounds)
    table = comparing.compare(data, found, compare, target) if compare is not None else None
    write_folder(out, lambda tmp: write_measure(data, found, tmp, table))
    if not quiet:
        _show(found, table)
        echo(f"model: {out / 'model.yaml'}")
    for w in found.warnings:
        echo(f"warning: {w['message']}", err=True)
    return Outcome.DONE


def _show(found, compared) -> None:
    console = wide_console()
    conf = f"{found.bootstrap['confidence']:.0%}"
    t = Table(title=f"{found.name}: case weights ({found.records:,} records)")
    for name in ("type", "cases", "prosecutors", "hours", "share", "weight h", f"{conf} interval", "model h"):
        t.add_column(name, justify="left" if name == "type" else "right")
    for r in found.types.itertuples():
        t.add_row(r.type, f"{r.cases:,.0f}", str(r.prosecutors), f"{r.hours:,.1f}", f"{r.share_of_case_time:.1%}",
                  f"{r.weight_hours:,.2f}", f"{r.ci_low_hours:,.2f}–{r.ci_high_hours:,.2f}",
                  f"{r.adjusted_weight_hours:,.2f}" if r.in_model else "left out")
    console.print(t)
    console.print(f"year value: {found.year['formula']}")
    if compared is not None:
        rows, totals = compared
        c = Table(title=f"against {totals['old_model']}")
        for name in ("type", "old h", "new h", "change", "old FTE", "new FTE", "change FTE"):
            c.add_column(name, justify="left" if name == "type" else "right")
        for r in rows.itertuples():
            c.add_row(r.type, f"{r.old_weight_hours:,.2f}", f"{r.new_weight_hours:,.2f}", f"{r.change_share:+.1%}",
                      f"{r.old_fte_need:,.2f}", f"{r.new_fte_need:,.2f}", f"{r.change_fte_need:+,.2f}")
        console.print(c)
        o, n = totals["old"], totals["new"]
        console.print(f"formula need: {o['formula_need_fte']:,.2f} → {n['formula_need_fte']:,.2f} FTE "
                      f"({totals['change_formula_need_fte']:+,.2f}; {o['fte_in_post']:,.2f} in post); hires at "
                      f"{totals['target_utilisation']:.0%}: {o['hires']} → {n['hires']}")
