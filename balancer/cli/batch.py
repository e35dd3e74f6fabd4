"""`batch`: many scenarios and variants, each solved like `run`, one table; a row's exit code is a run's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from balancer.cli.app import command, console, say, worst
from balancer.errors import InputError, Outcome


@command()
def batch(
    paths: Annotated[list[str], typer.Argument(help="Scenario files, folders (their allocation scenarios) and globs.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for batch.csv and one folder per variant.")],
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (default: min(2, CPUs)).")] = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        help="KEY=V1,V2,… (repeatable): one variant per point of the product, e.g. policy.tolerance=0,0.02.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="KEY=VALUE for every variant (repeatable); a --grid of the same key wins.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo variants whose outputs are up to date.")] = False,
    staffing: Annotated[bool, typer.Option(
        "--staffing", help="Run `staffing` (target 0.85) on the staffing scenarios instead of `run`.")] = False,
    variants: Annotated[Optional[list[str]], typer.Option(
        "--variants", help="Run the files' named variants: `all`, or names from their `scenarios:`/`overrides:`.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Run on a Dask cluster: tcp://HOST:PORT, or a scheduler file (needs dask[distributed]).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> Outcome:
    """Solve many scenarios and variants like `run`, one folder each, and a table OUT/batch.csv.
    Draws are NOT recorded in the register. Keys: policy.<field>, model.hours_per_fte,
    model.case_types.<id>.weight_hours. Exit codes as `run`'s, the worst row's: 2 any invalid,
    3 any failed, 1 any infeasible, 0 all done."""
    from balancer import batch as batch_runs

    skipped: list[tuple[Path, str]] = []
    files = batch_runs.expand_paths(paths, staffing=staffing, skipped=skipped)
    for path, why in skipped:  # a scenario with a typo must not vanish from a batch unnoticed
        typer.echo(f"skipped {path}: {why}", err=True)
    planned = batch_runs.plan_jobs(files, out, batch_runs.parse_sets(set_ or []), batch_runs.parse_grid(grid or []),
                                   force=force, wanted=variants, staffing=staffing)
    if not planned:
        raise InputError(f"no {'staffing' if staffing else 'allocation'} scenario found in {', '.join(paths)}")
    rows = _run(batch_runs, planned, out, jobs or batch_runs.default_jobs(), scheduler, quiet)
    for row in rows:
        if row["status"] != Outcome.DONE:
            name = row["scenario"] + (f" [{row['variant']}]" if row["variant"] else "")
            say(Outcome(row["status"]), f"{name}: {row['error']}")
    if not quiet:
        counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "infeasible", "invalid", "failed")}
        reused = sum(bool(r["reused"]) for r in rows)
        console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) +
                      f" ({reused} up to date, skipped) — table in {out / batch_runs.TABLE}")
    return worst(Outcome(r["status"]) for r in rows)


def _run(batch_runs, planned, out, n_jobs, scheduler, quiet) -> list[dict]:
    """Run the batch, with a progress bar (counts, failures, time left) unless quiet."""
    if quiet:
        return batch_runs.run_batch(planned, out, n_jobs, scheduler=scheduler)
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[failures]} not done"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("batch", total=len(planned), failures=0)
        failures = 0

        def on_row(row: dict) -> None:
            nonlocal failures
            failures += row["status"] != Outcome.DONE
            progress.update(task, advance=1, failures=failures)

        return batch_runs.run_batch(planned, out, n_jobs, on_row, scheduler=scheduler)
