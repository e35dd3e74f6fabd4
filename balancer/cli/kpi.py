"""`kpi`: indicators per month from a case-management register export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from balancer.cli.app import OutOption, command, echo, wide_console
from balancer.errors import Outcome
from balancer.io import check_outputs, write_folder


@command()
def kpi(
    cases: Annotated[Path, typer.Argument(help="Case register export (.csv, .xlsx or .parquet): id, type, "
                                               "office, filed [, prosecutor, assigned, disposed, outcome].")],
    model: Annotated[Path, typer.Option(help="Workload model YAML (case types with weight_hours, hours_per_fte).")],
    staff: Annotated[Path, typer.Option(help="Staff table (.csv, .xlsx or .parquet): id, fte [, office].")],
    period: Annotated[str, typer.Option(help="A year (2026), a month (2026-03) or months FROM:TO "
                                             "(2025-07:2026-06).")],
    out: OutOption,
    unknown_types: Annotated[Literal["warn", "refuse"], typer.Option(
        help="A case of a type the model does not hold: warn (counted, no hours) or refuse (exit 2).")] = "warn",
    unknown_prosecutors: Annotated[Literal["warn", "refuse"], typer.Option(
        help="A case held by someone not in the staff table: warn (counted, no FTE) or refuse (exit 2).")] = "warn",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only warnings.")] = False,
) -> Outcome:
    """Filings, dispositions, clearance rate, pending cases and their age, time to disposition and
    weighted caseload per FTE against the model's standard: per month, for the service, each
    office, prosecutor and case type (README, "Indicators from the case register")."""
    from balancer.kpi import KpiOptions, compute, load_register, parse_period, write_kpi

    start, end = parse_period(period)
    options = KpiOptions(start=start, end=end, unknown_types=unknown_types, unknown_prosecutors=unknown_prosecutors)
    check_outputs(out)  # before any work: a folder of this register's files, whole
    found = compute(load_register(cases, model, staff, options), options)
    write_folder(out, lambda tmp: write_kpi(found, tmp))
    if not quiet:
        _show(found)
        echo(f"report: {out / 'report.html'}")
    for w in found.register.warnings:
        echo(f"warning: {w['message']}", err=True)
    return Outcome.DONE


def _show(found) -> None:
    console = wide_console()
    t = Table(title=f"{found.cases:,} cases, {found.months[0]} to {found.months[-1]}")
    for name in ("office", "filings", "dispositions", "clearance", "pending", "age median d", "to disposal d",
                 "hours/FTE", "× standard"):
        t.add_column(name, justify="left" if name == "office" else "right")

    def row(name, r):
        def f(x, spec):
            return "" if x != x else format(x, spec)
        t.add_row(name, f"{r.filings:,}", f"{r.dispositions:,}", f(r.clearance_rate, ".0%"), f"{r.pending:,}",
                  f(r.pending_age_median_days, ",.0f"), f(r.disposition_days_median, ",.0f"),
                  f(r.pending_hours_per_fte, ",.0f"), f(r.pending_load, ",.2f"))

    for r in found.totals["office"].itertuples():
        row(str(r.group), r)
    row("all", next(found.totals["service"].itertuples()))
    console.print(t)
