"""Batch runs: many scenarios and variants of them, each solved like `balancer run`, one table.

    balancer batch scenarios/ extra/*.yaml --out runs --grid policy.tolerance=0,0.02 --set policy.seed=1

- **Paths** are scenario files, folders (every `*.yaml` below them that is an allocation scenario,
  i.e. has `cases:`; `staffing-*.yaml` are skipped) and globs (`*`, `?`, `[…]`, `**`; matches are
  filtered like a folder's files). A file named explicitly is always taken.
- **Variants.** `--set KEY=VALUE` applies to every run; `--grid KEY=V1,V2,…` (repeatable) gives the
  cartesian product of its values. Keys are dotted: `policy.<field>`, `policy.moves.<field>`,
  `model.hours_per_fte`, `model.case_types.<type id>.weight_hours`, `caseload.scale`; values are
  read as YAML scalars and validated by the scenario's pydantic models, so a bad key or value makes
  that row `invalid`, not the batch. A scenario file may also declare named `overrides:` (each a
  mapping of dotted keys to values) and `scenarios:` (named lists of overrides); `--variants
  all|NAME…` runs them. The loader applies both (`load_scenario(file, variant=, settings=)`, see
  `balancer/scenario/settings.py`); a row's `settings` are the effective ones it applied.
  **Precedence**, lowest first: the file as written, the named variant's overrides (in the order
  its `scenarios:` entry lists them), `--set`, the grid point — so a grid value wins over
  everything. A variant is named by its grid values only
  (`tolerance=0.02,hours_per_fte=1400`, in the order the `--grid` options were given), and its
  outputs go to `OUT/<scenario name>__<variant>/` (`OUT/<scenario name>/` without a grid).
- **Isolation.** Every variant is solved on its own; an invalid, infeasible or failing one is a
  row of `batch.csv` with its error, never the end of the batch. The command exits with the code
  of its worst row, as a run with that outcome would (`balancer.cli.app.EXIT_CODES`).
- **Atomic outputs and resumption.** A variant's files (`balancer.io.write_files`, then
  `variant.json` last) are written into a hidden temporary folder beside it, which is renamed
  into place only when complete. A rerun skips a variant whose folder's `variant.json` names the
  same inputs_sha256, the same settings and the same balancer version (its row is taken from
  there, `reused` true), unless `force`. Invalid and failed rows name no folder (an older whole
  result there is left as it was) and are always retried.
- **Parallel.** With `jobs > 1`, a `ProcessPoolExecutor` runs the variants; each worker loads
  and solves its own scenario and writes its own folder; the parent alone writes `batch.csv`
  (atomically), with rows in input order whatever the completion order, and then report.html
  (`balancer.batch_report`: the variants compared, one chart per headline metric). Hidden temporary
  folders an interrupted batch left in OUT are removed when the next batch starts (so two
  batches must not write into one OUT at the same time).
- **A cluster.** With `scheduler` (`tcp://host:port`, or a Dask scheduler file) the same jobs run
  on a Dask distributed cluster instead; its workers need balancer installed and must see the
  scenario files and OUT at the same paths (a shared file system).
- Batch runs do **not** record draws in the register (unlike `balancer run`).
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import re
import shutil
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd

from balancer.checks import Severity
from balancer.errors import BalancerError, InputError, Outcome
from balancer.io import atomic_write, write_files, write_json, write_table
from balancer.pipeline import Status, inputs_digest, package_version, solve
from balancer.registry import HEADLINE, STEP_NAMES
from balancer.scenario import Peek, Scenario, load_scenario, peek
from balancer.scenario.settings import parse_grid, parse_sets  # noqa: F401  (the batch's options)

SCHEDULER_TIMEOUT = 30
"""Seconds to wait for a Dask scheduler to answer."""
DONE, INFEASIBLE, INVALID, FAILED = (o.value for o in (Outcome.DONE, Outcome.INFEASIBLE, Outcome.INVALID,
                                                        Outcome.FAILED))
"""A row's status: how its run ended (the CLI gives a batch the exit code of its worst row)."""
STEPS = STEP_NAMES
METRICS = HEADLINE
"""The headline metrics (`balancer.registry`), one column each."""
MOVES = ("balance_moves", "forced_moves", "max_utilisation_before")
"""Rebalancing rows only (empty otherwise): cases moved for balance, forced moves, and the top
utilisation before (held cases at their holders)."""
STAFFING_METRICS = ("formula_need_fte", "formula_gap_fte", "hires")
"""Columns a `--staffing` row fills (the overall `all`/`all` row of staffing.csv)."""
REPORTED = (*METRICS, *MOVES, *STAFFING_METRICS)
"""The columns report.html may chart (`balancer.batch_report`)."""
COLUMNS = ("scenario", "variant", "file", "status", "reused", "seed", *METRICS, *MOVES, *STAFFING_METRICS, "inputs_sha256",
           "settings", "output", "error", *(f"seconds_{s}" for s in STEPS), "seconds_total")
TABLE = "batch.csv"
TABLE_PARQUET = "batch.parquet"
REPORT = "report.html"
VARIANT_FILE = "variant.json"
_TMP = ".tmp-"
_GLOB = re.compile(r"[*?\[]")


def default_jobs() -> int:
    return min(2, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------------
# Which scenarios
# ---------------------------------------------------------------------------------------------


def is_allocation_scenario(path: Path) -> bool:
    """A `*.yaml` with `cases:`, not named `staffing-*`."""
    return why_skipped(path, staffing=False) is None


def is_staffing_scenario(path: Path) -> bool:
    """A `*.yaml` with a `caseload:`."""
    return why_skipped(path, staffing=True) is None


def why_skipped(path: Path, staffing: bool = False) -> str | None:
    """None when a folder or glob takes `path` (an allocation scenario, or with `staffing` a staffing
    one); else why it is skipped, in words for the list `batch` prints."""
    if path.suffix != ".yaml":
        return "not a .yaml file"
    if not staffing and path.name.startswith("staffing-"):
        return "named staffing-*: a staffing scenario (batch --staffing runs those)"
    head = peek(path)
    if head is None:  # the loader says why, and fails as early as peek did: on reading the YAML
        try:
            load_scenario(path)
        except InputError as error:
            return f"cannot be read: {error.message}"
        return "cannot be read"
    if staffing:
        return None if head.caseload else "no `caseload:`, so not a staffing scenario"
    return None if head.cases else "no `cases:`, so not an allocation scenario"


def expand_paths(paths: Iterable[str | Path], staffing: bool = False,
                 skipped: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Files as given; folders and globs → their allocation scenarios (with `staffing`: their
    staffing scenarios), sorted. Duplicates once. Each file a folder or glob held but skipped is
    appended to `skipped` with the reason (`why_skipped`)."""
    found: dict[Path, None] = {}

    def take(p: Path) -> None:
        why = why_skipped(p, staffing)
        if why is None:
            found.setdefault(p, None)
        elif skipped is not None and all(p != q for q, _ in skipped):
            skipped.append((p, why))

    def folder(d: Path) -> None:
        for p in sorted(d.rglob("*.yaml")):
            if p.is_file():
                take(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            folder(p)
        elif p.is_file():
            found.setdefault(p, None)
        elif _GLOB.search(str(raw)):
            matches = sorted(glob.glob(str(raw), recursive=True))
            if not matches:
                raise InputError(f"no file matches {raw}", expected="a scenario file, a folder or a glob that matches")
            for m in map(Path, matches):
                if m.is_dir():
                    folder(m)
                else:
                    take(m)
        else:
            raise InputError(f"{raw} does not exist", expected="a scenario file, a folder or a glob")
    return list(found)


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------


def _short(key: str) -> str:
    return key.split(".", 1)[1] if key.startswith(("policy.", "model.")) else key


def variants(sets: dict[str, str], grid: dict[str, list[str]]) -> list[tuple[str, dict[str, str]]]:
    """(variant name, settings) for each grid point; settings are `sets` updated by the point."""
    out = []
    for point in itertools.product(*grid.values()):
        chosen = dict(zip(grid, point))
        name = ",".join(f"{_short(k)}={v}" for k, v in chosen.items())
        out.append((name, {**sets, **chosen}))
    return out


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------


@dataclass
class Job:
    file: str
    """The scenario file as given (shown in batch.csv)."""
    scenario: str
    """Scenario name (the folder's stem when the file cannot be read)."""
    variant: str
    """Shown in batch.csv and names the folder: the declared variant and the grid point."""
    settings: dict[str, str]
    """`--set` and the grid point, as typed (the loader applies them after `declared`)."""
    out: str
    """The batch's output folder."""
    force: bool = False
    conflict: str | None = None
    """Set when this job cannot run (e.g. its output folder is taken by another scenario)."""
    formats: tuple[str, ...] = ("csv",)
    staffing: bool = False
    """Run `balancer staffing` (at its default target) instead of `run`."""
    declared: str | None = None
    """The file's named variant (from its `scenarios:`/`overrides:`) to apply; None: as written."""

    @property
    def folder(self) -> str:
        name = f"{self.scenario}__{self.variant}" if self.variant else self.scenario
        return re.sub(r"[^A-Za-z0-9._=,+-]", "-", name)


def _row(job: Job, settings: dict | None = None, **values: Any) -> dict:
    """A batch.csv row; `settings`: those the loader applied (None: the job's, as typed, when
    nothing was applied)."""
    row = {c: None for c in COLUMNS}
    row.update(scenario=job.scenario, variant=job.variant, file=job.file, reused=False,
               settings=json.dumps(job.settings if settings is None else settings, sort_keys=True))
    row.update(values)
    return row


def _reusable(target: Path, digest: str, settings: dict) -> dict | None:
    """The stored row when `target` holds a whole result of these inputs, settings and version."""
    try:
        info = json.loads((target / VARIANT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (info.get("inputs_sha256"), info.get("settings"), info.get("version")) == \
        (digest, settings, package_version())
    return info["row"] if same and isinstance(info.get("row"), dict) else None


def _publish(tmp: Path, target: Path) -> None:
    """Rename the finished `tmp` folder to `target`, replacing an older one."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}{_TMP}old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)  # put the previous whole result back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _allocation(job: Job, sc: Scenario, digest: str, timings: dict) -> tuple[dict, Callable]:
    """Solve like `balancer run`: the row, and how to write the outputs."""
    result = solve(sc)
    timings.update(result.timings)
    status = DONE if result.status is Status.DONE else INFEASIBLE
    m = result.metrics
    errors = "; ".join(f.message for f in result.findings if f.severity is Severity.ERROR)
    row = _row(job, sc.settings, status=status, seed=result.seed, inputs_sha256=digest, output=job.folder,
               error=errors or None, **{k: m.get(k) for k in METRICS})
    if result.rebalance is not None:
        rb = result.rebalance
        row.update(balance_moves=rb["balance_moves"], forced_moves=rb["forced_moves"],
                   max_utilisation_before=rb["utilisation_before"].get("max"))
    return row, lambda folder: write_files(result, folder, job.formats)


def _staffing(job: Job, sc: Scenario, digest: str, timings: dict) -> tuple[dict, Callable]:
    """Plan like `balancer staffing`: the row (its overall totals), and how to write the outputs."""
    from balancer.staffing import plan_staffing, write_staffing  # only batch --staffing needs it

    t0 = time.perf_counter()
    result = plan_staffing(sc)
    timings["plan"] = time.perf_counter() - t0
    totals = result.total()
    row = _row(job, sc.settings, status=DONE if result.feasible else INFEASIBLE, inputs_sha256=digest,
               output=job.folder, error=None if result.feasible else "; ".join(result.findings),
               **{k: totals.get(k) for k in STAFFING_METRICS})
    return row, lambda folder: write_staffing(result, folder, report=False)  # the batch has one report


def run_job(job: Job) -> dict:
    """Load, vary, solve and write one variant; never raises (the row says what went wrong)."""
    t0 = time.perf_counter()
    if job.conflict:
        return _row(job, status=INVALID, error=job.conflict)
    timings: dict[str, float] = {}
    try:
        sc = load_scenario(job.file, variant=job.declared, settings=job.settings)
        timings["load"] = time.perf_counter() - t0
        digest = inputs_digest(sc.inputs)
        target = Path(job.out) / job.folder
        if not job.force and (row := _reusable(target, digest, sc.settings)) is not None:
            return {**row, "file": job.file, "reused": True}
        row, write = (_staffing if job.staffing else _allocation)(job, sc, digest, timings)
        t_write = time.perf_counter()
        tmp = target.with_name(f".{target.name}{_TMP}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            write(tmp)
            timings["write"] = time.perf_counter() - t_write
            row.update({f"seconds_{s}": round(timings[s], 6) for s in STEPS if s in timings},
                       seconds_total=round(time.perf_counter() - t0, 6))
            write_json({"scenario": sc.name, "file": job.file, "variant": job.variant, "settings": sc.settings,
                        "inputs_sha256": digest, "version": package_version(), "row": row}, tmp / VARIANT_FILE)
            _publish(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return row
    except InputError as e:
        status, error = INVALID, e.message
    except BalancerError as e:
        status, error = FAILED, str(e)
    except Exception as e:  # isolation: one broken run is a row, not the end of the batch
        status, error = FAILED, f"{type(e).__name__}: {e}"
    return _row(job, status=status, error=error,
                **{f"seconds_{s}": round(timings[s], 6) for s in STEPS if s in timings},
                seconds_total=round(time.perf_counter() - t0, 6))


# ---------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------


def _declared(head: Peek | None, wanted: list[str]) -> list[str | None]:
    """The file's named variants `wanted` asks for: names from its `scenarios:` or `overrides:`
    (checked when loading), or `all`: every `scenarios:` entry, or every override when there are
    none. Nothing wanted (or nothing declared for `all`): [None], the scenario as written."""
    if not wanted:
        return [None]
    if wanted != ["all"]:
        return list(wanted)
    return list((head.scenarios or head.overrides) if head is not None else {}) or [None]


def plan_jobs(files: list[Path], out: Path, sets: dict[str, str], grid: dict[str, list[str]],
              force: bool = False, wanted: list[str] | None = None, staffing: bool = False) -> list[Job]:
    """One job per file × declared variant × grid point. Precedence, lowest first: the file as
    written, its named variant's overrides (in the order listed), `--set`, the grid point."""
    jobs, owner = [], {}
    for f in files:
        head = peek(f)
        name = head.name if head is not None and head.name else f.stem
        for declared, (variant, settings) in itertools.product(_declared(head, wanted or []),
                                                               variants(sets, grid)):
            job = Job(file=str(f), scenario=name, variant=",".join(v for v in (declared, variant) if v),
                      settings=settings, out=str(out), force=force, staffing=staffing, declared=declared)
            if job.folder in owner and owner[job.folder] != str(f):
                job.conflict = (f"output folder {job.folder} is already used by {owner[job.folder]} "
                                f"(two scenarios named {name!r})")
            else:
                owner[job.folder] = str(f)
            jobs.append(job)
    return jobs


def _clean_stale(out: Path) -> None:
    """Temporary folders an interrupted batch left behind."""
    if out.is_dir():
        for p in out.iterdir():
            if p.name.startswith(".") and _TMP in p.name and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


@contextmanager
def _executor(n_jobs: int, scheduler: str | None) -> Iterator[Executor]:
    """Local worker processes, or a Dask distributed cluster (`tcp://host:port` or a scheduler
    file) behind the same `concurrent.futures` interface."""
    if scheduler is None:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            yield pool
        return
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask: pip install 'dask[distributed]'",
                         field="--scheduler", expected="a Python environment with dask.distributed") from None
    kind = {"scheduler_file": scheduler} if Path(scheduler).is_file() else {"address": scheduler}
    try:
        client = Client(**kind, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"cannot reach the Dask scheduler {scheduler}: {e}", field="--scheduler",
                         expected="tcp://HOST:PORT of a running scheduler, or its scheduler file") from None
    try:
        with client.get_executor() as pool:
            yield pool
    finally:
        client.close()


def run_batch(jobs: list[Job], out: Path, n_jobs: int = 1,
              on_row: Callable[[dict], None] | None = None, scheduler: str | None = None) -> list[dict]:
    """Run every job (in worker processes when n_jobs > 1, or on a Dask cluster when `scheduler`
    is given); write OUT/batch.csv, batch.parquet and report.html; rows in job order."""
    out.mkdir(parents=True, exist_ok=True)
    _clean_stale(out)
    rows: list[dict | None] = [None] * len(jobs)

    def done(i: int, row: dict) -> None:
        rows[i] = row
        if on_row is not None:
            on_row(row)

    if scheduler is None and (n_jobs <= 1 or len(jobs) <= 1):
        for i, job in enumerate(jobs):
            done(i, run_job(job))
    else:
        with _executor(n_jobs, scheduler) as pool:
            futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    row = fut.result()
                except Exception as e:  # a worker died (e.g. out of memory)
                    row = _row(jobs[i], status=FAILED, error=f"{type(e).__name__}: {e}")
                done(i, row)
    table = pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)  # seeds are 64-bit: never floats
    write_table(table, out / TABLE)  # formula-like text made inert, as in every table
    write_table(_typed(table), out / TABLE_PARQUET)
    write_report(table, out / REPORT)
    return rows  # type: ignore[return-value]


def write_report(table: pd.DataFrame, path: Path) -> None:
    from balancer.batch_report import batch_html  # matplotlib only when a report is written

    html = batch_html(table, REPORTED)
    atomic_write(path, lambda tmp: tmp.write_text(html, encoding="utf-8"))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Column types for Parquet: numbers as floats, `reused` as a flag, seeds (up to 2**64 − 1)
    and text as strings."""
    numeric = [*METRICS, *MOVES, *STAFFING_METRICS, *(c for c in COLUMNS if c.startswith("seconds_"))]
    out = table.copy()
    out[numeric] = out[numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
    for c in out.columns.difference([*numeric, "reused"]):
        out[c] = out[c].map(lambda v: None if v is None or v != v else str(v)).astype("string")
    out["reused"] = out["reused"].map(bool).astype("boolean")
    return out
