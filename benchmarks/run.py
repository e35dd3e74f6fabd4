"""balancer benchmark: time every pipeline step on synthetic scenarios of growing size.

    python benchmarks/run.py [--sizes 10000x200,100000x2000] [--repeat 3] [--baseline]

For every size, ``benchmarks/generate.py`` writes a scenario into ``benchmarks/_work/`` (reused
when it already exists; ``--regen`` rewrites it). Every (size, repeat) then runs in a fresh
subprocess (``python benchmarks/run.py --one SCENARIO``) that loads, solves and writes the
scenario with balancer's public API and prints one JSON line with the step timings, its peak RSS
and the result metrics, so timings and memory are per size and never polluted by an earlier
run. The parent computes an independent LP lower bound (``baseline.lp_lower_bound``, HiGHS),
re-checks the written assignment against the input files, prints a table (rich) and writes
``benchmarks/results.md``. Beside the LP bound the table gives balancer's integral limit (the best
maximum utilisation of whole cases it found, ``result.limit``) and the draw's gap from it.

With ``--baseline`` the 10000x200 instance is also solved by the naive pair models of
``benchmarks/baseline.py`` (CP-SAT and PuLP/CBC, each in its own subprocess, ``--time-limit``
seconds each), and a second table compares them with balancer and the LP bound.

Timings are medians over ``--repeat`` runs; the machine is noisy, compare ratios from one run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from balancer.registry import STEP_NAMES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"
STEPS = [s for s in STEP_NAMES if s != "select"]  # a backlog without holders selects nothing
BASELINE_SIZE = (10_000, 200)
SECTION_START = re.compile(r"^<!-- [\w .-]+: start -->$", re.MULTILINE)
"""Where the first section another benchmark maintains begins (`<!-- rebalance_bench: start -->`,
`<!-- intake_bench year: start -->`, …): results.md from there on belongs to those scripts."""


def load_script(path: Path):
    """A script that is not in a package (an example's `generate.py`), imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.parent.name + "_" + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- child

def _jsonable(v):
    """Scalars only (numpy scalars → Python); anything else → None (dropped by the caller)."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    try:
        import numpy as np
        if isinstance(v, np.generic):
            return v.item()
    except ImportError:  # pragma: no cover
        pass
    return None


def run_one(scenario_path: str, out_dir: str | None) -> dict:
    """Load → solve → write one scenario with balancer's public API; return the measurements."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    t_imp = time.perf_counter()
    import balancer
    t_import = time.perf_counter() - t_imp

    out = Path(out_dir) if out_dir else Path(scenario_path).parent / "out"
    t0 = time.perf_counter()
    scenario = balancer.load_scenario(scenario_path)
    t1 = time.perf_counter()
    result = balancer.solve(scenario)
    t2 = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)  # the benchmark's own scratch folder: a run writes a new one
    balancer.write_outputs(result, out)
    t3 = time.perf_counter()

    timings = {k: float(v) for k, v in dict(result.timings or {}).items()}
    timings["load"] = t1 - t0
    timings["write"] = t3 - t2
    status = result.status
    metrics = {}
    for k, v in dict(result.metrics or {}).items():
        j = _jsonable(v)
        if j is not None:
            metrics[k] = j
    limit = getattr(result, "limit", None)  # the integral limit (summary.json "limits")
    return {
        "scenario": str(scenario_path),
        "out_dir": str(out),
        "status": getattr(status, "name", str(status)),
        "done": status == getattr(balancer.Status, "DONE", object()),
        "timings": timings,
        "solve_s": t2 - t1,
        "end_to_end_s": t3 - t0,
        "import_s": t_import,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "metrics": metrics,
        "limits": limit.to_dict() if limit is not None else None,
    }


# --------------------------------------------------------------------------- parent helpers

def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        c, _, s = part.partition("x")
        sizes.append((int(float(c)), int(float(s))))
    return sizes


def _last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def _subprocess_json(cmd: list[str], timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(HERE)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                           cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    data = _last_json(p.stdout)
    if p.returncode != 0 or data is None:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or [f"exit code {p.returncode}"]
        return {"error": f"exit {p.returncode}: {tail[0][:300]}"}
    return data


def ensure_scenario(n_cases: int, n_staff: int, seed: int, regen: bool) -> tuple[Path, float | None]:
    from generate import generate
    d = WORK / (f"{n_cases}x{n_staff}" + ("" if seed == 0 else f"-s{seed}"))
    path = d / "scenario.yaml"
    stamp = d / ".generated"
    key = json.dumps({"cases": n_cases, "staff": n_staff, "seed": seed,
                      "generator_mtime": (HERE / "generate.py").stat().st_mtime})
    if not regen and path.exists() and stamp.exists() and stamp.read_text() == key:
        return path, None
    t0 = time.perf_counter()
    path = generate(d, n_cases, n_staff, seed=seed)
    dt = time.perf_counter() - t0
    stamp.write_text(key)
    return path, dt


def assignment_problems(inst, cidx, sidx) -> tuple:
    """What breaks the promises in a drawn assignment (case index → staff index), checked from the
    input files alone: each case once, only eligible staff, no excluded pair; and (P,) loads."""
    import numpy as np

    problems = []
    if not np.array_equal(np.sort(cidx), np.arange(inst.n_cases)):
        problems.append("not every case exactly once")
    if not inst.type_eligible[inst.case_type[cidx], sidx].all():
        problems.append("ineligible staff")
    if inst.excl_case.size and np.isin(cidx.astype(np.int64) * inst.n_staff + sidx,
                                       inst.excl_case * inst.n_staff + inst.excl_staff).any():
        problems.append("excluded staff")
    load = inst.base_load + np.bincount(sidx, weights=inst.case_weight[cidx], minlength=inst.n_staff)
    return problems, load


def verify(scenario: Path, out_dir: Path) -> tuple[str, float | None]:
    """Re-check the written assignment against the input files, independently of balancer."""
    import pandas as pd
    from baseline import load_instance

    try:
        inst = load_instance(scenario)
        a = pd.read_csv(out_dir / "assignments.csv", dtype={"case_id": str, "staff_id": str})
        cases = pd.read_csv(scenario.parent / "cases.csv", usecols=["id"], dtype={"id": str})
        cidx = pd.Index(cases["id"]).get_indexer(a["case_id"])
        sidx = pd.Index(inst.staff_ids).get_indexer(a["staff_id"])
        problems = []
        if (cidx < 0).any() or (sidx < 0).any():
            problems.append("unknown ids")
            cidx, sidx = cidx[(cidx >= 0) & (sidx >= 0)], sidx[(cidx >= 0) & (sidx >= 0)]
        found, load = assignment_problems(inst, cidx, sidx)
        problems += found
        umax = float((load / inst.capacity).max())
        return ("ok" if not problems else "; ".join(problems)), umax
    except Exception as e:  # noqa: BLE001 — the table reports it, the benchmark goes on
        return f"check failed: {type(e).__name__}: {e}", None


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fmt_s(v) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _fmt_u(v) -> str:
    return "—" if v is None else f"{100 * v:.2f} %"


def _fmt_pp(v) -> str:
    return "—" if v is None else f"{100 * v:+.2f} pp"


def _fmt_int(v) -> str:
    return "—" if v is None else f"{int(v):,}"


def _fmt_limit(v, limits: dict | None) -> str:
    """The integral limit, how it was found, and its proven lower bound if the bracket is open."""
    if v is None:
        return "—"
    if not limits:
        return _fmt_u(v)
    lower = "" if limits.get("exact", True) else f"; ≥ {_fmt_u(limits.get('lower'))}"
    return f"{_fmt_u(v)} ({limits.get('method', '?')}{lower})"


def _gap(a, b):
    return a - b if a is not None and b is not None else None


# --------------------------------------------------------------------------- tables

def build_rows(runs: list[dict]) -> tuple[list[str], list[list[str]]]:
    extra_steps = []
    for r in runs:
        for rep in r["reps"]:
            for k in rep.get("timings", {}):
                if k not in STEPS and k not in extra_steps:
                    extra_steps.append(k)
    steps = STEPS + extra_steps
    head = (["cases", "staff", "classes", "edges"] + [f"{s} s" for s in steps]
            + ["end-to-end s", "peak RSS MiB", "status", "max util", "LP bound", "gap",
               "integral limit", "gap to limit", "check"])
    rows = []
    for r in runs:
        ok = [rep for rep in r["reps"] if "error" not in rep]
        first = ok[0] if ok else {}
        m = first.get("metrics", {})
        umax = m.get("max_utilisation")
        lp = r.get("lp_bound")
        limit = m.get("integral_limit")
        row = [_fmt_int(r["cases"]), _fmt_int(r["staff"]),
               _fmt_int(m.get("n_classes")), _fmt_int(m.get("n_edges"))]
        row += [_fmt_s(_median([rep["timings"].get(s) for rep in ok])) for s in steps]
        row += [_fmt_s(_median([rep["end_to_end_s"] for rep in ok])),
                "—" if not ok else f"{_median([rep['peak_rss_mib'] for rep in ok]):.0f}",
                first.get("status") or (r["reps"][0].get("error", "—") if r["reps"] else "—"),
                _fmt_u(umax), _fmt_u(lp), _fmt_pp(_gap(umax, lp)),
                _fmt_limit(limit, first.get("limits")), _fmt_pp(_gap(umax, limit)),
                r.get("check", "—")]
        rows.append(row)
    return head, rows


def build_baseline_rows(bl: dict) -> tuple[list[str], list[list[str]]]:
    head = ["method", "variables", "build s", "time s", "status", "max util", "LP bound",
            "gap", "integral limit", "gap to limit", "peak RSS MiB"]
    lp = bl.get("lp_bound")
    limit = bl.get("integral_limit")
    rows = []
    for r in bl["rows"]:
        u = r.get("max_utilisation")
        rows.append([
            r.get("solver", "?"), _fmt_int(r.get("n_vars")), _fmt_s(r.get("build_s")),
            _fmt_s(r.get("time_s")),
            r.get("status") or r.get("error", "—"), _fmt_u(u), _fmt_u(lp), _fmt_pp(_gap(u, lp)),
            _fmt_limit(limit, bl.get("limits")), _fmt_pp(_gap(u, limit)),
            "—" if r.get("peak_rss_mib") is None else f"{r['peak_rss_mib']:.0f}",
        ])
    return head, rows


def write_section(path: Path, start: str, end: str, section: str) -> None:
    """Replace the part of results.md between the markers `start` and `end` with `section`
    (appended when the markers are not there yet): each benchmark script owns one such part."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# balancer benchmark results\n"
    block = f"{start}\n{section.rstrip()}\n{end}\n"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i < 1 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def print_table(title: str, head: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=240)
    t = Table(title=title, show_lines=False)
    for i, h in enumerate(head):
        t.add_column(h, justify="left" if h in ("method", "status", "check") else "right")
    for row in rows:
        t.add_row(*[str(c) for c in row])
    console.print(t)


def _versions() -> str:
    from importlib import metadata
    parts = []
    for pkg in ["balancer", "numpy", "pandas", "ortools", "highspy", "PuLP", "clarabel"]:
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000x200,100000x2000",
                    help="comma-separated CASESxSTAFF (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh-process runs per size")
    ap.add_argument("--baseline", action="store_true",
                    help="also solve 10000x200 with the naive CP-SAT and CBC pair models")
    ap.add_argument("--time-limit", type=float, default=120.0, help="baseline time limit, s")
    ap.add_argument("--seed", type=int, default=0, help="generator seed")
    ap.add_argument("--regen", action="store_true", help="regenerate scenarios")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-child timeout, s")
    ap.add_argument("--results", default=str(HERE / "results.md"), help="markdown output")
    ap.add_argument("--one", metavar="SCENARIO", help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.one:
        print(json.dumps(run_one(args.one, args.out_dir)))
        sys.stdout.flush()
        return 0

    sys.path.insert(0, str(HERE))
    from baseline import lp_lower_bound  # highspy only: never import ortools in this process

    sizes = parse_sizes(args.sizes)
    runs = []
    for n_cases, n_staff in sizes:
        path, gen_s = ensure_scenario(n_cases, n_staff, args.seed, args.regen)
        print(f"[{n_cases}x{n_staff}] scenario {path.relative_to(ROOT)}"
              + (f" generated in {gen_s:.2f} s" if gen_s is not None else " (reused)"),
              flush=True)
        t0 = time.perf_counter()
        try:
            lp = lp_lower_bound(path)
        except Exception as e:  # noqa: BLE001
            print(f"  LP bound failed: {e}", flush=True)
            lp = None
        lp_s = time.perf_counter() - t0
        print(f"  LP lower bound {_fmt_u(lp)} ({lp_s:.2f} s)", flush=True)
        reps = []
        for i in range(args.repeat):
            out_dir = path.parent / f"out-{i}"
            rep = _subprocess_json([sys.executable, str(Path(__file__).resolve()), "--one",
                                    str(path), "--out-dir", str(out_dir)], args.timeout)
            reps.append(rep)
            if "error" in rep:
                print(f"  run {i + 1}: {rep['error']}", flush=True)
            else:
                m = rep.get("metrics", {})
                print(f"  run {i + 1}: {rep['status']} end-to-end {rep['end_to_end_s']:.2f} s, "
                      f"peak RSS {rep['peak_rss_mib']:.0f} MiB, max util "
                      f"{_fmt_u(m.get('max_utilisation'))} (integral limit "
                      f"{_fmt_u(m.get('integral_limit'))})", flush=True)
        run = {"cases": n_cases, "staff": n_staff, "scenario": str(path), "gen_s": gen_s,
               "lp_bound": lp, "lp_s": lp_s, "reps": reps}
        ok = [r for r in reps if "error" not in r]
        if ok:
            check, umax = verify(path, Path(ok[0]["out_dir"]))
            reported = ok[0]["metrics"].get("max_utilisation")
            if check == "ok" and umax is not None and reported is not None \
                    and abs(umax - reported) > 1e-6:
                check = f"max util {100 * umax:.2f} % ≠ reported"
            run["check"] = check
            run["check_max_utilisation"] = umax
            print(f"  check: {check}", flush=True)
        runs.append(run)

    bl = None
    if args.baseline:
        n_cases, n_staff = BASELINE_SIZE
        path, _ = ensure_scenario(n_cases, n_staff, args.seed, False)
        ours = next((r for r in runs if (r["cases"], r["staff"]) == BASELINE_SIZE), None)
        if ours is None:
            rep = _subprocess_json([sys.executable, str(Path(__file__).resolve()), "--one",
                                    str(path), "--out-dir", str(path.parent / "out-0")],
                                   args.timeout)
            ours = {"reps": [rep], "lp_bound": lp_lower_bound(path)}
        rows = []
        for solver in ["cpsat", "cbc"]:
            print(f"[baseline] {solver} on {n_cases}x{n_staff}, {args.time_limit:.0f} s limit …",
                  flush=True)
            r = _subprocess_json([sys.executable, str(HERE / "baseline.py"), str(path),
                                  "--solver", solver, "--time-limit", str(args.time_limit),
                                  "--workers", "2"], args.time_limit * 4 + 600)
            r.setdefault("solver", {"cpsat": "CP-SAT (pairs)", "cbc": "PuLP + CBC (pairs)"}[solver])
            print(f"  {r.get('status', r.get('error'))}, max util {_fmt_u(r.get('max_utilisation'))}, "
                  f"{_fmt_s(r.get('time_s'))} s", flush=True)
            rows.append(r)
        ok = [r for r in ours["reps"] if "error" not in r]
        if ok:
            m = ok[0]["metrics"]
            rows.append({"solver": "balancer (classes)",
                         "n_vars": m.get("n_edges"),
                         "time_s": _median([r["end_to_end_s"] for r in ok]),
                         "status": ok[0]["status"],
                         "max_utilisation": m.get("max_utilisation"),
                         "peak_rss_mib": _median([r["peak_rss_mib"] for r in ok])})
        else:
            rows.append({"solver": "balancer (classes)",
                         "error": ours["reps"][0].get("error", "failed") if ours["reps"] else "—"})
        # balancer's own integral limit of this instance (the same for every method's row)
        limit = ok[0]["metrics"].get("integral_limit") if ok else None
        bl = {"lp_bound": ours["lp_bound"], "integral_limit": limit,
              "limits": ok[0].get("limits") if ok else None, "rows": rows}

    # ---- report
    head, rows = build_rows(runs)
    title = (f"balancer pipeline — median of {args.repeat} fresh-process run(s), "
             f"{os.cpu_count()} cores")
    print_table(title, head, rows)
    md = [
        "# balancer benchmark results",
        "",
        f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} by "
        f"`python benchmarks/run.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
        f"on {platform.machine()} with {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {_versions()}.",
        "",
        f"Times are medians of {args.repeat} run(s), each in a fresh process; the machine is "
        "noisy, so compare ratios within one table. See `benchmarks/README.md` for the columns.",
        "",
        markdown_table(head, rows),
        "",
    ]
    if bl is not None:
        bhead, brows = build_baseline_rows(bl)
        print_table(f"10,000 cases × 200 staff: naive pair models ({args.time_limit:.0f} s limit, "
                    "2 workers) vs balancer", bhead, brows)
        md += [
            f"## Baselines at 10,000 cases × 200 staff ({args.time_limit:.0f} s limit, 2 workers)",
            "",
            "One binary per eligible case–prosecutor pair, minimise the maximum utilisation "
            "(`benchmarks/baseline.py`); time includes building the model. balancer's time is "
            "its end-to-end time (load → files written).",
            "",
            markdown_table(bhead, brows),
            "",
        ]
    results = Path(args.results)
    if results.exists():  # keep the sections the other benchmarks maintain
        previous = results.read_text(encoding="utf-8")
        first = SECTION_START.search(previous)
        if first:
            md += [previous[first.start():].rstrip("\n"), ""]
    results.write_text("\n".join(md), encoding="utf-8")
    WORK.mkdir(exist_ok=True)
    (WORK / "results.json").write_text(json.dumps({"runs": runs, "baseline": bl}, indent=1,
                                                  default=str), encoding="utf-8")
    print(f"wrote {args.results}")
    failed = any("error" in rep for r in runs for rep in r["reps"]) or \
        any(r.get("check", "ok") != "ok" for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
