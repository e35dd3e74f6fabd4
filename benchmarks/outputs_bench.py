"""What the report and the workbook add to a run: `balancer run` end to end with CSV (and the
report, which every run writes) and with `--format xlsx`, at 6,000, 10,000 and 100,000 cases.

    python benchmarks/outputs_bench.py [--sizes 10000x200,100000x2000] [--repeat 3]

Every run is `balancer run SCENARIO --out DIR --seed 1 -q` in a fresh process with a fresh register,
timed by the parent from process start to exit (interpreter start and imports included). Inside
the child, `balancer.io.write_report` and `balancer.workbook.write_workbook` are wrapped with a
timer, so the seconds each took (matplotlib's import included in the report's) are measured within
the same run; "rest" is the run less both, and "×" the run with the workbook over that rest: below
2 means the report and the workbook together add less than the rest of the run. The synthetic
scenarios come from `generate.py` (reused from `_work/` as `run.py` does); the first row is the
shipped `scenarios/regional/regional.yaml` (6,000 cases, 3 offices). Prints a Markdown table and
writes its section of `results.md`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from benchmarks.run import (_versions, ensure_scenario, markdown_table, parse_sizes, print_table,  # noqa: E402
                            write_section)

START, END = "<!-- outputs_bench: start -->", "<!-- outputs_bench: end -->"
REGIONAL = ROOT / "scenarios" / "regional" / "regional.yaml"

CHILD = r"""
import atexit, json, sys, time
start = time.perf_counter()
spent = {"report": 0.0, "workbook": 0.0}
import balancer.io, balancer.workbook

def timed(module, name):
    inner = getattr(module, name)
    key = "report" if "report" in name else "workbook"
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - t
    setattr(module, name, wrapper)

timed(balancer.io, "write_report")
timed(balancer.workbook, "write_workbook")  # write_files imports it at each call: the wrapper is what it gets

def done():
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({**spent, "child_s": time.perf_counter() - start, "peak_mib": peak / 1024}), flush=True)

atexit.register(done)
from balancer.cli import app
app(["run", *sys.argv[1:]], prog_name="balancer")
"""


def one(scenario: Path, xlsx: bool, timeout: float) -> dict:
    """One `balancer run` in a fresh process and a fresh folder and register."""
    with tempfile.TemporaryDirectory(prefix="outputs-bench-") as tmp:
        out = Path(tmp) / "out"
        argv = [str(scenario), "--out", str(out), "--seed", "1", "--reason", "benchmark: the same draw in every run", "-q",
                "--register", str(Path(tmp) / "register.db"),
                *(["--format", "xlsx"] if xlsx else [])]
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT)
        wall = time.perf_counter() - t
        if done.returncode != 0:
            raise SystemExit(f"balancer run {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        written = {p.name: p.stat().st_size for p in out.iterdir()}
        expected = {"assignments.csv", "staff.csv", "summary.json", "report.html", *(["plan.xlsx"] if xlsx else [])}
        if set(written) != expected:
            raise SystemExit(f"{scenario}: wrote {sorted(written)}, expected {sorted(expected)}")
        return {**found, "wall": wall, "report_kb": written["report.html"] / 1000,
                "xlsx_mb": written.get("plan.xlsx", 0) / 1e6}


def measure(label: str, scenario: Path, cases: int, staff: int, repeat: int, timeout: float) -> dict:
    runs = {"csv": [], "xlsx": []}
    for i in range(repeat):
        for kind in runs:  # interleaved: a noisy spell slows both alike
            runs[kind].append(one(scenario, kind == "xlsx", timeout))
            r = runs[kind][-1]
            print(f"  {label} {kind} {i + 1}: {r['wall']:.2f} s (report {r['report']:.2f} s, workbook "
                  f"{r['workbook']:.2f} s), peak {r['peak_mib']:.0f} MiB", file=sys.stderr, flush=True)
    med = {kind: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for kind, rs in runs.items()}
    rest = [r["wall"] - r["report"] - r["workbook"] for r in runs["xlsx"]]
    ratio = [r["wall"] / (r["wall"] - r["report"] - r["workbook"]) for r in runs["xlsx"]]
    return {"label": label, "cases": cases, "staff": staff, "csv": med["csv"], "xlsx": med["xlsx"],
            "rest": statistics.median(rest), "ratio": statistics.median(ratio)}


def table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["scenario", "cases × staff", "run, CSV s", "report s", "run, `--format xlsx` s", "xlsx adds s",
            "workbook s", "report + workbook s", "rest s", "× (xlsx run / rest)", "peak RSS CSV / xlsx MiB",
            "report kB", "plan.xlsx MB"]
    body = []
    for r in rows:
        c, x = r["csv"], r["xlsx"]
        body.append([r["label"], f"{r['cases']:,} × {r['staff']:,}", f"{c['wall']:.2f}", f"{c['report']:.2f}",
                     f"{x['wall']:.2f}", f"{x['wall'] - c['wall']:+.2f}", f"{x['workbook']:.2f}",
                     f"{x['report'] + x['workbook']:.2f}", f"{r['rest']:.2f}", f"{r['ratio']:.2f}",
                     f"{c['peak_mib']:,.0f} / {x['peak_mib']:,.0f}", f"{c['report_kb']:,.0f}",
                     f"{x['xlsx_mb']:.1f}"])
    return head, body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000x200,100000x2000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-regional", action="store_true", help="leave out the shipped 6,000-case scenario")
    parser.add_argument("--regen", action="store_true")
    parser.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    parser.add_argument("--results", default=str(HERE / "results.md"))
    args = parser.parse_args(argv)

    scenarios = [] if args.no_regional else [("regional", REGIONAL, 6_000, 60)]
    for cases, staff in parse_sizes(args.sizes):
        path, _ = ensure_scenario(cases, staff, 0, args.regen)
        scenarios.append(("synthetic", path, cases, staff))
    rows = [measure(label, path, cases, staff, args.repeat, args.timeout) for label, path, cases, staff in scenarios]

    head, body = table(rows)
    print_table(f"report and workbook — median of {args.repeat} fresh-process runs, {os.cpu_count()} cores",
                head, body)
    print(markdown_table(head, body))
    command = " ".join(["python benchmarks/outputs_bench.py", *(argv if argv is not None else sys.argv[1:])])
    section = "\n".join([
        "## What the report and the workbook add to a run (`outputs_bench.py`)",
        "",
        f"Generated {_dt.datetime.now().isoformat(timespec='seconds')} by `{command}` on {platform.machine()} with "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {_versions()}.",
        "",
        f"`balancer run SCENARIO --seed 1 -q`, medians of {args.repeat} fresh processes each, CSV and xlsx runs "
        "interleaved; run times from process start to exit. The report is part of every run; report s and "
        "workbook s are the time inside `write_report` and `write_workbook` in the same runs, rest s the xlsx run "
        "less both, × the xlsx run over that rest (below 2: the report and the workbook add less than the rest "
        "of the run). Peak RSS is the child's `VmHWM`.",
        "",
        markdown_table(head, body),
        "",
    ])
    write_section(Path(args.results), START, END, section)
    (HERE / "_work").mkdir(exist_ok=True)
    (HERE / "_work" / "outputs.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"wrote {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
