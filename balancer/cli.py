"""Command line: a thin layer over the library. Exit codes are decided here, and only here:
0 done, 1 infeasible (diagnosis printed), 2 invalid input (file:line, field, expectation)."""

from __future__ import annotations

import json
import secrets
from contextlib import contextmanager, nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from balancer.checks import Finding, Severity
from balancer.errors import BalancerError, InputError
from balancer.io import FORMATS, atomic_write, write_json, write_outputs, write_table
from balancer.pipeline import Result, Status, fresh_seed, inputs_digest, solve
from balancer.register import (
    DEFAULT_FILE,
    SALT_BYTES,
    RedrawWithoutReason,
    Register,
    RegisterError,
    current_operator,
    default_location,
    record_draw,
    replay,
    seed_commitment,
    software_versions,
)
from balancer.plan import probability_table
from balancer.scenario import load_scenario
from balancer import staffing as staffing_model

EXIT_DONE, EXIT_INFEASIBLE, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3
STAFF_ROWS = 15
"""How many prosecutors the terminal table shows; the rest are in staff.csv."""

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure workload and allocate cases at random, evenly, to qualified prosecutors.",
)
console = Console(highlight=False)
RegisterOption = Annotated[str, typer.Option(help="Draw register: a SQLite file or a postgresql:// URL.")]


class Format(str, Enum):
    parquet = "parquet"
    xlsx = "xlsx"


def _load(path: Path):
    try:
        return load_scenario(path)
    except InputError as e:
        _invalid(e.message)


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
    register: Annotated[Optional[str], typer.Option(
        help=f"Draw register: a SQLite file or a postgresql:// URL [default: {DEFAULT_FILE} beside OUT].")] = None,
    operator: Annotated[Optional[str], typer.Option(help="Who runs the draw [default: the OS user].")] = None,
    reason: Annotated[Optional[str], typer.Option(
        help="Why these inputs are drawn again; required when they were drawn before.")] = None,
    commitment: Annotated[Optional[int], typer.Option(
        help="Use the seed committed in this register record (needs --seed-file).")] = None,
    seed_file: Annotated[Optional[Path], typer.Option(help="The sealed seed file `balancer commit` wrote.")] = None,
    moves_frontier: Annotated[bool, typer.Option(
        "--moves-frontier", help="Rebalancing: only tabulate and chart what each move budget buys "
        "(frontier.csv, frontier.png); no draw, nothing recorded.")] = False,
    moves_step: Annotated[int, typer.Option(help="Budget step of --moves-frontier, in cases.", min=1)] = 10,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Balance the backlog, draw one assignment at random, record it in the register, write the plan."""
    if moves_frontier:
        return _frontier(scenario, out, moves_step, quiet)
    if probabilities is not None and probabilities.suffix.lstrip(".") not in FORMATS:
        _invalid(f"--probabilities {probabilities}: expected a file name ending in "
                 f"{', '.join('.' + f for f in FORMATS)}.")
    if (commitment is None) != (seed_file is None):
        _invalid("--commitment and --seed-file go together: the seed file holds the committed seed.")
    sc = _load(scenario)
    salt = None
    if commitment is not None:
        seed, salt = _read_seed_file(seed_file, commitment)
    with _exit_codes():
        result = solve(sc, seed=seed)
    formats = ["csv", *(f.value for f in fmt or [])]
    _print_findings(result.findings, quiet)
    if result.status is Status.INFEASIBLE:
        write_outputs(result, out, formats)
        typer.echo(f"infeasible: diagnosis written to {out / 'summary.json'}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    # Recorded first, written after: a crash in between leaves a recorded draw without files,
    # never files that claim a draw the register does not hold.
    record = _record(result, register or default_location(out), operator, reason, commitment, salt)
    write_outputs(result, out, formats)
    if probabilities is not None:
        write_table(probability_table(result.pool, result.design), probabilities)  # what was drawn
    if record["redraw_of"]:
        typer.echo(f"RE-DRAW: these inputs were drawn before (register records "
                   f"{', '.join(map(str, record['redraw_of']))}); reason given: {record['reason']}", err=True)
    if not quiet:
        _print_plan(result)
        console.print(f"seed {result.seed} — draw recorded as record {record['id']} in "
                      f"{record['register']} — plan written to {out}/")


def _frontier(scenario: Path, out: Path, step: int, quiet: bool) -> None:
    from balancer.frontier import moves_frontier, write_frontier  # matplotlib only here

    sc = _load(scenario)
    with _exit_codes():
        frontier = moves_frontier(sc, step=step)
    _print_findings(frontier.findings, quiet)
    if frontier.table is None:
        typer.echo("infeasible: no budget can help (see the findings above)", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    paths = write_frontier(frontier, sc, out)
    if quiet:
        return
    table = Table(title=f"{sc.name}: what each move budget buys (fluid targets; forced moves on top)")
    for name in ("budget", "moved cases", "moved hours", "max", "lowest max reachable", "min", "spread"):
        table.add_column(name, justify="right")
    for r in frontier.table.itertuples(index=False):
        table.add_row(str(r.budget), f"{r.moved_cases:.0f}", f"{r.moved_hours:,.1f}", f"{r.max_utilisation:.1%}",
                      f"{r.lowest_max_utilisation:.1%}", f"{r.min_utilisation:.1%}", f"{r.spread:.1%}")
    console.print(table)
    if frontier.step != step:
        console.print(f"(step widened from {step} to {frontier.step} cases to keep the table short)")
    console.print(f"written: {', '.join(str(p) for p in paths)}")


@app.command()
def intake(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file: staff, held cases, policy.")],
    new_cases: Annotated[Path, typer.Argument(help="Table of new cases (.csv/.xlsx/.parquet), with a `date` column for daily batches.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files.")],
    seed: Annotated[Optional[int], typer.Option(help="Seed the days' seeds are derived from; default: fresh ones.", min=0)] = None,
    register: Annotated[Optional[str], typer.Option(
        help=f"Record each day's draw in this register [default: {DEFAULT_FILE} beside OUT, if it exists].")] = None,
    operator: Annotated[Optional[str], typer.Option(help="Who runs the intake [default: the OS user].")] = None,
    reason: Annotated[Optional[str], typer.Option(help="Why days drawn before are drawn again.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Allocate new cases day by day against current loads, with the same balance and lottery."""
    from balancer.intake import batches, day_inputs, run_intake
    from balancer.scenario import load_new_cases

    sc = _load(scenario)
    try:
        cases, name, sha = load_new_cases(new_cases, sc)
    except InputError as e:
        _invalid(e.message)
    location = register or (default_location(out) if default_location(out).exists() else None)
    with (_open_register(location) if location is not None else nullcontext()) as reg:
        if reg is not None:  # a day drawn before needs a reason: refuse before anything is recorded
            drawn = reg.redraw_counts()
            again = [str(day) for day, batch in batches(cases)
                     if inputs_digest(day_inputs(sc, name, day, batch)) in drawn]
            if again and not reason:
                _invalid(f"these days were drawn before: {', '.join(again)}. Use --reason.")
        record = (lambda day: record_draw(reg, day.result, operator=operator or current_operator(),
                                          reason=reason)) if reg is not None else None
        with _exit_codes():
            result = run_intake(sc, cases, file=name, sha256=sha, seed=seed, on_day=record)
    if result.days:
        _print_findings(result.days[-1].result.findings, quiet)
    tables = {"assignments": result.assignments(), "days": result.days_table()}
    if result.staff() is not None:
        tables["staff"] = result.staff()
    for key, table in tables.items():
        write_table(table, out / f"{key}.csv")
    write_json(result.summary(), out / "summary.json")
    if result.status is Status.INFEASIBLE:
        typer.echo(f"infeasible on {result.days[-1].date}: diagnosis in {out / 'summary.json'}; "
                   "the days before it are written", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    if not quiet:
        days = result.days_table()
        console.print(f"{len(days)} day(s), {int(days['cases'].sum())} new case(s); highest utilisation "
                      f"after the last day {days['max_utilisation'].iloc[-1]:.1%} (target "
                      f"{days['target_max_utilisation'].iloc[-1]:.1%}); "
                      + (f"recorded in {location}" if location is not None else "no register: not recorded")
                      + f" — written to {out}/")


@app.command()
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
) -> None:
    """Solve many scenarios and variants like `run`, one folder each, and a table OUT/batch.csv.
    Draws are NOT recorded in the register. Keys: policy.<field>, model.hours_per_fte,
    model.case_types.<id>.weight_hours. Exit 0 all done, 1 any infeasible or failed, 2 any invalid."""
    from balancer import batch as batch_runs

    try:
        files = batch_runs.expand_paths(paths, staffing=staffing)
        planned = batch_runs.plan_jobs(files, out, batch_runs.parse_sets(set_ or []),
                                       batch_runs.parse_grid(grid or []), force=force, wanted=variants,
                                       staffing=staffing)
    except InputError as e:
        _invalid(e.message)
    if not planned:
        _invalid(f"no {'staffing' if staffing else 'allocation'} scenario found in {', '.join(paths)}.")
    n_jobs = jobs or batch_runs.default_jobs()
    try:
        rows = _run_batch(batch_runs, planned, out, n_jobs, scheduler, quiet)
    except InputError as e:
        _invalid(e.message)
    for row in rows:
        if row["status"] != batch_runs.DONE:
            name = row["scenario"] + (f" [{row['variant']}]" if row["variant"] else "")
            typer.echo(f"{row['status']}: {name}: {row['error']}", err=True)
    if not quiet:
        counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "infeasible", "invalid", "failed")}
        reused = sum(bool(r["reused"]) for r in rows)
        console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) +
                      f" ({reused} up to date, skipped) — table in {out / batch_runs.TABLE}")
    raise typer.Exit(batch_runs.exit_code(rows))


def _run_batch(batch_runs, planned, out, n_jobs, scheduler, quiet) -> list[dict]:
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
            failures += row["status"] != batch_runs.DONE
            progress.update(task, advance=1, failures=failures)

        return batch_runs.run_batch(planned, out, n_jobs, on_row, scheduler=scheduler)


@app.command()
def staffing(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file with a `caseload`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files.")],
    target: Annotated[float, typer.Option(help="Highest utilisation anyone may reach.")] = 0.85,
    sweep: Annotated[Optional[str], typer.Option(
        help="What-if: intake=A:B:STEP, weight.TYPE=A:B:STEP or hours_per_fte=A:B:STEP.")] = None,
    hire_grade: Annotated[Optional[list[str]], typer.Option(
        help="Only these grades may be hired (repeatable) [default: any grade].")] = None,
) -> None:
    """Staff needed for the caseload: the plain weighted-caseload formula next to the fewest hires
    that keep everyone at or below --target. Exit 1 when no number of hires is enough."""
    sc = _load(scenario)
    try:
        spec = staffing_model.parse_sweep(sweep, sc) if sweep is not None else None
        result = staffing_model.plan_staffing(sc, target=target, hire_grades=hire_grade)
        table = staffing_model.run_sweep(sc, spec, target, hire_grade) if spec is not None else None
    except InputError as e:
        _invalid(e.message)
    staffing_model.write_staffing(result, out, table)
    _print_staffing(result)
    for message in result.findings:
        typer.echo(f"{'finding' if result.feasible else 'infeasible'}: {message}", err=True)
    if not result.feasible:
        raise typer.Exit(EXIT_INFEASIBLE)


def _print_staffing(result) -> None:
    table = Table(title=f"{result.scenario}: staffing at target {result.target:.0%}")
    cols = ("office", "specialisation", "workload h", "available h", "FTE in post", "formula need",
            "formula gap", "hires")
    for col in cols:
        table.add_column(col, justify="left" if col in cols[:2] else "right")
    for r in result.table.itertuples():
        table.add_row(r.office, r.specialisation, f"{r.workload_hours:,.0f}", f"{r.available_hours:,.0f}",
                      f"{r.fte_in_post:.2f}", f"{r.formula_need_fte:.2f}", f"{r.formula_gap_fte:+.2f}",
                      f"{r.hires} {('(' + r.hires_by_grade + ')') if r.hires_by_grade else ''}".strip()
                      if result.feasible else "—")
    console.print(table)
    if result.feasible:
        console.print(f"{result.total_hires} hire(s); best highest utilisation {result.max_utilisation_before:.0%} "
                      f"with the staff in post, {result.max_utilisation_after:.0%} after the hires.")


@contextmanager
def _exit_codes():
    """Bad input exits 2 with its message; any other failure of ours exits 3; never a traceback."""
    try:
        yield
    except InputError as e:
        _invalid(e.message)
    except BalancerError as e:
        typer.echo(f"failed: {e}", err=True)
        raise typer.Exit(EXIT_FAILED)


def _invalid(message: str) -> NoReturn:
    typer.echo(f"invalid input: {message}", err=True)
    raise typer.Exit(EXIT_INVALID)


def _open_register(location) -> Register:
    try:
        return Register(location)
    except RegisterError as e:
        typer.echo(f"failed: {e}", err=True)
        raise typer.Exit(EXIT_FAILED)


def _record(result: Result, location, operator, reason, commitment, salt) -> dict:
    """Append the draw; a re-draw without a reason is refused (nothing recorded, nothing written)."""
    with _open_register(location) as reg:
        try:
            record_draw(reg, result, operator=operator or current_operator(), reason=reason,
                        commitment_id=commitment, seed_salt=salt)
        except RedrawWithoutReason as e:
            _invalid(f"{e} Use --reason.")
        except RegisterError as e:
            typer.echo(f"failed: {e}", err=True)
            raise typer.Exit(EXIT_FAILED)
    return result.record


def _read_seed_file(path: Path, commitment: int) -> tuple[int, bytes]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seed, salt, made_for = int(data["seed"]), bytes.fromhex(data["salt"]), int(data["commitment"])
    except FileNotFoundError:
        _invalid(f"{path}: no such seed file.")
    except (ValueError, KeyError, TypeError):
        _invalid(f"{path}: not a seed file written by `balancer commit` "
                 "(expected JSON with commitment, seed and salt).")
    if made_for != commitment:
        _invalid(f"{path}: this seed file belongs to commitment {made_for}, not {commitment}.")
    return seed, salt


@app.command()
def commit(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file the draw will use.")],
    seed_file: Annotated[Path, typer.Option(help="Where to write the secret seed (keep it sealed).")],
    register: RegisterOption = DEFAULT_FILE,
    operator: Annotated[Optional[str], typer.Option(help="Who commits [default: the OS user].")] = None,
) -> None:
    """Fix the draw's seed before anyone can see its result: record a commitment to a fresh secret
    seed and the inputs' hashes; `run --commitment ID --seed-file FILE` later uses and reveals it."""
    sc = _load(scenario)
    if seed_file.exists():
        _invalid(f"{seed_file} exists already: a seed file is written once.")
    seed, salt = fresh_seed(), secrets.token_bytes(SALT_BYTES)
    with _open_register(register) as reg:
        try:
            rec = reg.append_commitment(
                scenario=sc.name, inputs=sc.inputs, inputs_sha256=inputs_digest(sc.inputs),
                policy=sc.policy.model_dump(mode="json"), seed_commitment=seed_commitment(seed, salt),
                versions=software_versions(), operator=operator or current_operator())
        except RegisterError as e:
            typer.echo(f"failed: {e}", err=True)
            raise typer.Exit(EXIT_FAILED)
    secret = json.dumps({"commitment": rec.id, "seed": seed, "salt": salt.hex()}) + "\n"
    atomic_write(seed_file, lambda tmp: (tmp.write_text(secret, encoding="utf-8"), tmp.chmod(0o600)))
    console.print(f"commitment {rec.id} recorded in {reg.location}: seed commitment "
                  f"{rec.seed_commitment}. Keep {seed_file} sealed until the draw: "
                  f"balancer run {scenario} --commitment {rec.id} --seed-file {seed_file} --out DIR")


@app.command()
def history(
    register: RegisterOption = DEFAULT_FILE,
    scenario: Annotated[Optional[str], typer.Option(help="Only this scenario's records.")] = None,
) -> None:
    """List the recorded draws and commitments, with how often each set of inputs was drawn."""
    with _open_register(register) as reg:
        records, counts = reg.history(scenario), reg.redraw_counts()
    table = Table(title=f"register {reg.location}")
    for col in ("id", "time (UTC)", "kind", "scenario", "operator", "draws of these inputs", "re-draw of", "reason"):
        table.add_column(col)
    for r in records:
        draws = str(counts.get(r.inputs_sha256, 0))
        table.add_row(str(r.id), r.created_at[:19], r.kind, r.scenario, r.operator, draws,
                      ", ".join(map(str, r.redraw_of)), r.reason or "")
    console.print(table)


@app.command()
def verify(
    record_id: Annotated[Optional[int], typer.Argument(help="The draw to replay.")] = None,
    inputs: Annotated[Optional[Path], typer.Option(help="The scenario the draw was made from.")] = None,
    chain: Annotated[bool, typer.Option("--chain", help="Check the whole hash chain instead.")] = False,
    register: RegisterOption = DEFAULT_FILE,
) -> None:
    """Replay a recorded draw from its seed and inputs and compare results, or check the chain.
    Exit 0 when it holds, 1 when it does not."""
    if chain == (record_id is not None) or (record_id is not None and inputs is None):
        _invalid("give either --chain, or a RECORD_ID with --inputs SCENARIO.")
    with _open_register(register) as reg:
        if chain:
            report = reg.verify_chain()
            console.print(str(report))
            raise typer.Exit(EXIT_DONE if report.ok else EXIT_INFEASIBLE)
        try:
            rec = reg.get(record_id)
        except RegisterError as e:
            _invalid(str(e))
    problems = replay(rec, _load(inputs))
    for p in problems:
        typer.echo(f"mismatch: {p}", err=True)
    if problems:
        raise typer.Exit(EXIT_INFEASIBLE)
    console.print(f"record {rec.id} verified: replaying seed {rec.seed} on these inputs gives the "
                  f"recorded result {rec.result_sha256}.")


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
        *([("best max of whole cases (LP bound)", f"{m['integral_limit']:.1%} ({m['lp_bound']:.1%})")]
          if "integral_limit" in m else []),
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
