"""Staffing at national size: `plan_staffing` from 3 offices × 60 staff to 200 × 10,000, and a sweep.

    python benchmarks/staffing_bench.py [--sizes 3x60,25x1000,100x5000,200x10000] [--repeat 3]
                                        [--baseline-cap 120] [--sweep-size 25x1000]
                                        [--sweep intake=0.8:1.4:0.1] [--time-limit 60]

Scenarios from ``generate_staffing.py`` (15 case types, 5 specialisations, 3 grades, mixed FTE)
in ``benchmarks/_work/staffing-<offices>x<staff>/``, reused until the generator changes or
``--regen``. Every row runs ``--repeat`` times, each in a fresh process (``--one``): load the
scenario, ``plan_staffing`` at target 0.85; the table shows medians. The child times HiGHS itself
(every ``scipy.optimize.milp`` call) so that building and solving can be told apart, and reads
its peak memory (``VmHWM``). The baseline is the previous model (``previous_staffing.py``: one
PuLP + CBC model, ε grade tie-break), run once per size in its own process and stopped at
``--baseline-cap`` seconds; after a size it did not finish, larger ones are not tried. Where it
finishes, its number of hires must equal the new one's (the check column).

The table is printed and written into ``benchmarks/results.md`` (``--results``) between the
markers below; raw measurements go to ``benchmarks/_work/staffing.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"
START, END = "<!-- staffing_bench: start -->", "<!-- staffing_bench: end -->"
TARGET = 0.85
sys.path.insert(0, str(HERE))
from run import markdown_table, write_section  # noqa: E402  (the one results.md writer)


# --------------------------------------------------------------------------- children

def _peak_mib() -> float:
    """This process's peak resident memory (not ru_maxrss: a child inherits the parent's there)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed_highs() -> list[float]:
    """Make every HiGHS call of the staffing model add its seconds to the returned list."""
    from balancer.staffing import model

    spent, real = [], model.milp

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    model.milp = timed
    return spent


def one(path: str, time_limit: float) -> dict:
    """load → plan_staffing, once, in this process."""
    sys.path.insert(0, str(ROOT))
    from balancer.scenario import load_scenario
    from balancer.staffing import plan_staffing

    spent = _timed_highs()
    t0 = time.perf_counter()
    sc = load_scenario(path)
    t_load = time.perf_counter() - t0
    res = plan_staffing(sc, TARGET, time_limit=time_limit)
    total = time.perf_counter() - t0
    modelling = res.timings["inputs"] + res.timings["hires"] + res.timings["max_utilisation"]
    return {"load_s": t_load, "build_s": modelling - sum(spent), "solve_s": sum(spent),
            "report_s": res.timings["report"], "total_s": total, "peak_mib": _peak_mib(),
            "hires": res.total_hires if res.feasible else None, "proven": res.hires_proven,
            "lower_bound": res.hires_lower_bound, "parts": len(res.parts),
            "parts_proven": sum(p["hires_proven"] for p in res.parts),
            "slowest_part_s": max((p["seconds"] for p in res.parts), default=0.0),
            "solves": len(spent), "status": res.solver_status.value}


def one_sweep(path: str, sweep: str, time_limit: float) -> dict:
    """load → run_sweep, once, in this process (what `balancer staffing --sweep` adds)."""
    sys.path.insert(0, str(ROOT))
    from balancer.scenario import load_scenario
    from balancer.staffing import parse_sweep, run_sweep

    t0 = time.perf_counter()
    sc = load_scenario(path)
    table = run_sweep(sc, parse_sweep(sweep, sc), TARGET, time_limit=time_limit)
    return {"total_s": time.perf_counter() - t0, "points": len(table), "peak_mib": _peak_mib(),
            "proven": bool(table["hires_proven"].all()), "hires": table["hires"].tolist()}


def one_baseline(path: str) -> dict:
    """The previous monolithic CBC model, once, in this process."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import previous_staffing
    from balancer.scenario import load_scenario

    t0 = time.perf_counter()
    res = previous_staffing.plan_staffing(load_scenario(path), TARGET)
    return {"total_s": time.perf_counter() - t0, "hires": res.total_hires if res.feasible else None,
            "peak_mib": _peak_mib()}


# --------------------------------------------------------------------------- parent

def ensure(offices: int, staff: int, regen: bool) -> Path:
    sys.path.insert(0, str(HERE))
    from generate_staffing import generate_staffing

    d = WORK / f"staffing-{offices}x{staff}"
    stamp = d / ".generated"
    key = json.dumps({"generator_mtime": (HERE / "generate_staffing.py").stat().st_mtime})
    if regen or not stamp.exists() or stamp.read_text() != key:
        generate_staffing(d, offices, staff)
        stamp.write_text(key)
    return d / "scenario.yaml"


def child(args: list[str], timeout: float) -> dict:
    """Run this script with `args` in a fresh process; its JSON line, or what stopped it."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                             timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout, "wall_s": time.perf_counter() - t0}
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def _s(v) -> str:
    return "—" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def _proven(r: dict) -> str:
    if r.get("hires") is None:
        return "infeasible" if r.get("status") == "infeasible" else "—"
    if r["proven"]:
        return f"yes ({r['parts_proven']}/{r['parts']} parts)"
    return f"no: ≥ {r['lower_bound']:,} ({r['parts'] - r['parts_proven']} parts at the limit)"


def _baseline(b: dict | None, hires) -> tuple[str, str]:
    """The baseline's time, and whether its hires equal the new model's."""
    if b is None:
        return "not run", "—"
    if "skipped" in b:
        return f"> {b['skipped']:g} s (not run: {b['after']} did not finish)", "—"
    if "timeout" in b:
        return f"> {b['timeout']:g} s (stopped)", "—"
    if "error" in b:
        return f"error: {b['error']}", "—"
    return _s(b["total_s"]), "same hires" if b["hires"] == hires else f"DIFFERENT: {b['hires']} hires"


def size_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["offices", "staff", "parts", "load s", "build s", "solve s", "report s", "total s", "peak MiB",
            "hires", "proven fewest?", "slowest part s", "baseline s (one CBC model)", "check"]
    rows = []
    for r in results:
        ok = [x for x in r["reps"] if "error" not in x and "timeout" not in x]
        first = ok[0] if ok else {}
        base, same = _baseline(r.get("baseline"), first.get("hires"))
        med = {k: _median([x[k] for x in ok]) for k in
               ("load_s", "build_s", "solve_s", "report_s", "total_s", "peak_mib", "slowest_part_s")}
        rows.append([f"{r['offices']:,}", f"{r['staff']:,}", f"{first.get('parts', 0):,}"]
                    + [_s(med[k]) for k in ("load_s", "build_s", "solve_s", "report_s", "total_s")]
                    + ["—" if med["peak_mib"] is None else f"{med['peak_mib']:.0f}",
                       "—" if first.get("hires") is None else f"{first['hires']:,}", _proven(first),
                       _s(med["slowest_part_s"]), base, same])
        if not ok:
            rows[-1][-1] = str(r["reps"][0] if r["reps"] else "no run")
    return head, rows


def sweep_rows(sweep: dict) -> tuple[list[str], list[list[str]]]:
    head = ["scenario", "sweep", "points", "total s", "per point s", "peak MiB", "all proven fewest?",
            "hires", "baseline"]
    ok = [x for x in sweep["reps"] if "error" not in x and "timeout" not in x]
    first = ok[0] if ok else {}
    total = _median([x["total_s"] for x in ok])
    peak = _median([x["peak_mib"] for x in ok])
    return head, [[sweep["size"], f"`{sweep['sweep']}`", str(first.get("points", "—")), _s(total),
                   _s(total / first["points"]) if total and first.get("points") else "—",
                   "—" if peak is None else f"{peak:.0f}", "yes" if first.get("proven") else "no",
                   " → ".join(f"{h:,}" for h in first.get("hires", [])) or "—", sweep["baseline"]]]


def _versions() -> str:
    from importlib import metadata
    names = ["balancer", "numpy", "pandas", "scipy", "PuLP"]
    return ", ".join(f"{n} {metadata.version(n)}" for n in names)


def measure(args) -> tuple[list[dict], dict | None]:
    results, unfinished = [], None
    for size in filter(None, args.sizes.split(",")):
        offices, staff = map(int, size.split("x"))
        path = ensure(offices, staff, args.regen)
        reps = [child(["--one", str(path), "--time-limit", str(args.time_limit)], args.timeout)
                for _ in range(args.repeat)]
        r = {"offices": offices, "staff": staff, "path": str(path), "reps": reps}
        if args.baseline_cap > 0:
            r["baseline"] = ({"skipped": args.baseline_cap, "after": unfinished} if unfinished
                             else child(["--one-baseline", str(path)], args.baseline_cap))
            if "timeout" in r["baseline"]:
                unfinished = f"{offices} × {staff:,}"
        print(json.dumps({k: v for k, v in r.items() if k != "path"}), flush=True)
        results.append(r)
    sweep = None
    if args.sweep_size:
        offices, staff = map(int, args.sweep_size.split("x"))
        path = ensure(offices, staff, False)
        reps = [child(["--one-sweep", str(path), args.sweep, "--time-limit", str(args.time_limit)], args.timeout)
                for _ in range(args.repeat)]
        points = len(reps[0].get("hires", [])) if reps else 0
        sweep = {"size": f"{offices} × {staff:,}", "sweep": args.sweep, "reps": reps,
                 "baseline": f"not run ({points} solves of the baseline at this size, each > {args.baseline_cap:g} s)"
                 if unfinished else "not run"}
        print(json.dumps(sweep), flush=True)
    return results, sweep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="3x60,25x1000,100x5000,200x10000", help="OFFICESxSTAFF, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per row (medians)")
    ap.add_argument("--baseline-cap", type=float, default=120.0, help="seconds for the previous model; 0: skip")
    ap.add_argument("--sweep-size", default="25x1000", help="OFFICESxSTAFF for the sweep row; empty: none")
    ap.add_argument("--sweep", default="intake=0.8:1.4:0.1")
    ap.add_argument("--time-limit", type=float, default=60.0, help="plan_staffing's time limit per solve")
    ap.add_argument("--timeout", type=float, default=900.0, help="per child process, s")
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("--results", default=str(HERE / "results.md"))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--one-sweep", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--one-baseline", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one or args.one_sweep or args.one_baseline:
        out = (one(args.one, args.time_limit) if args.one else
               one_sweep(*args.one_sweep, args.time_limit) if args.one_sweep else one_baseline(args.one_baseline))
        print(json.dumps(out))
        return 0
    t0 = time.perf_counter()
    results, sweep = measure(args)
    cmd = " ".join(["python benchmarks/staffing_bench.py", *(argv if argv is not None else sys.argv[1:])])
    md = ["## Staffing at national size\n",
          f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} by `{cmd}` on {platform.machine()} with "
          f"{os.cpu_count()} cores, Python {platform.python_version()}; {_versions()}. Medians of {args.repeat} "
          f"fresh processes; target 0.85, time limit {args.time_limit:g} s per solve. See "
          "`benchmarks/README.md` for the columns.\n",
          markdown_table(*size_rows(results))]
    if sweep:
        md += ["", markdown_table(*sweep_rows(sweep))]
    section = "\n".join(md) + "\n"
    print(section)
    write_section(Path(args.results), START, END, section)
    (WORK / "staffing.json").write_text(json.dumps({"sizes": results, "sweep": sweep}, indent=1))
    print(f"{time.perf_counter() - t0:.0f} s in all; updated {args.results}")
    bad = any("error" in x or "timeout" in x for r in results for x in r["reps"]) or any(
        "baseline" in r and "hires" in r["baseline"] and r["reps"] and r["baseline"]["hires"] != r["reps"][0].get("hires")
        for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
