"""Command line: a thin layer over the library. Exit codes are decided here, and only here:
0 done, 1 infeasible (diagnosis printed), 2 invalid input (file:line, field, expectation)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from balancer.checks import Finding, Severity
from balancer.errors import BalancerError, InputError
from balancer.io import FORMATS, write_outputs, write_table
from balancer.pipeline import Result, Status, solve
from balancer.plan import probability_table
from balancer.scenario import load_scenario

EXIT_DONE, EXIT_INFEASIBLE, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3
STAFF_ROWS = 15
"""How many prosecutors the terminal table shows; the rest are in staff.csv."""

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure workload and allocate cases at random, evenly, to qualified prosecutors.",
)
console = Console(highlight=False)


class Format(str, Enum):
    parquet = "parquet"
    xlsx = "xlsx"


def _load(path: Path):
    try:
        return load_scenario(path)
    except InputError as e:
        typer.echo(f"invalid input: {e.message}", err=True)
        raise typer.Exit(EXIT_INVALID)


@app.command()
def validate(scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario file and the files it references, without solving."""
    sc = _load(scenario)
    console.print(f"{scenario}: valid — {len(sc.staff)} staff, {len(sc.cases)} cases, "
                  f"{len(sc.model.case_types)} case types.")


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files.")],
    fmt: Annotated[Optional[list[Format]], typer.Option(
        "--format", help="Also write the tables in this format (repeatable); CSV is always written.")] = None,
    seed: Annotated[Optional[int], typer.Option(
        help="Seed for the draw; default: the policy's, else a fresh one from the OS.", min=0)] = None,
    probabilities: Annotated[Optional[Path], typer.Option(
        help="Also write the whole class × prosecutor probability table here (.csv, .parquet or .xlsx).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Balance the backlog, draw one assignment at random, and write the plan."""
    if probabilities is not None and probabilities.suffix.lstrip(".") not in FORMATS:
        typer.echo(f"invalid input: --probabilities {probabilities}: expected a file name ending in "
                   f"{', '.join('.' + f for f in FORMATS)}.", err=True)
        raise typer.Exit(EXIT_INVALID)
    sc = _load(scenario)
    try:
        result = solve(sc, seed=seed)
    except InputError as e:
        typer.echo(f"invalid input: {e.message}", err=True)
        raise typer.Exit(EXIT_INVALID)
    except BalancerError as e:
        typer.echo(f"failed: {e}", err=True)
        raise typer.Exit(EXIT_FAILED)
    formats = ["csv", *(f.value for f in fmt or [])]
    write_outputs(result, out, formats)
    if probabilities is not None and result.design is not None:
        write_table(probability_table(result.problem, result.design), probabilities)
    _print_findings(result.findings, quiet)
    if result.status is Status.INFEASIBLE:
        typer.echo(f"infeasible: diagnosis written to {out / 'summary.json'}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    if not quiet:
        _print_plan(result)
        console.print(f"seed {result.seed} — plan written to {out}/")


def _print_findings(findings: list[Finding], quiet: bool) -> None:
    for f in findings:
        if f.severity is Severity.ERROR:
            typer.echo(f"error: {f.message}", err=True)
        elif not quiet:
            typer.echo(f"warning: {f.message}", err=True)


def _print_plan(result: Result) -> None:
    staff = result.plan.staff
    base = staff["base_load_hours"] / staff["capacity_hours"]
    shown = staff.assign(before=base).sort_values("utilisation", ascending=False).head(STAFF_ROWS)
    table = Table(title=f"{result.scenario.name}: load per prosecutor (most loaded first)")
    for col in ("prosecutor", "capacity h", "before", "after", "target", "cases"):
        table.add_column(col, justify="left" if col == "prosecutor" else "right")
    for r in shown.itertuples():
        table.add_row(str(r.staff_id), f"{r.capacity_hours:,.0f}", f"{r.before:.0%}",
                      f"{r.utilisation:.0%}", f"{r.target_utilisation:.0%}", str(r.cases))
    if len(staff) > STAFF_ROWS:
        table.caption = f"{len(staff) - STAFF_ROWS} more in staff.csv"
    console.print(table)

    m = result.metrics
    head = Table(title="headline", show_header=False)
    rows = [
        ("cases / prosecutors", f"{m['n_cases']:,} / {m['n_staff']:,}"),
        ("utilisation max / mean / min", f"{m['max_utilisation']:.1%} / {m['mean_utilisation']:.1%} / "
                                         f"{m['min_utilisation']:.1%}"),
        ("leximin target max", f"{m['target_max_utilisation']:.1%}"),
        ("spread (max − min), Gini", f"{m['spread']:.1%}, {m['gini']:.3f}"),
        ("largest gap from target", f"{m['max_distance_from_target_hours']:.1f} h"),
        ("max π / mean max π", f"{m['max_probability']:.2f} / {m['mean_max_probability']:.2f}"),
        ("effective candidates per case", f"{m['mean_effective_candidates']:.1f}"),
        ("mean entropy per case", f"{m['mean_entropy']:.2f} nats"),
        ("support (case, prosecutor) pairs", f"{m['support_size']:,}"),
        ("chance two draws agree on a case", f"{m['expected_overlap']:.1%}"),
    ]
    for k, v in rows:
        head.add_row(k, v)
    console.print(head)
