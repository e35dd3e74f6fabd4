"""`balancer kpi` speed and memory: generated registers of ~90 thousand to ~1 million cases.

    python benchmarks/kpi_bench.py [--sizes 60 240 740] [--format csv|parquet] [--period 2025-07:2026-06]

Each size (prosecutors, 20 to an office; the example's generator `scenarios/kpi/generate.py`, 2.5
years of filings at 1.2 times capacity, 15 case types, the measured model
`scenarios/measure/model.yaml`) is written to a temporary folder, then computed in a fresh process:
load (read and check the register, staff and model), compute (every indicator, every month, four
dimensions), write (kpi.csv, totals.csv, report.html, summary.json: the folder, whole), the whole
command as a user runs it (`balancer kpi CASES … --out DIR`, interpreter start included), and the
process's peak RSS. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "scenarios" / "measure" / "model.yaml"
sys.path.insert(0, str(ROOT))

from benchmarks.run import load_script  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from balancer.kpi import KpiOptions, compute, load_register, parse_period, write_kpi
from balancer.io import check_outputs, write_folder
cases, model, staff, period, out = sys.argv[1:6]
start, end = parse_period(period)
options = KpiOptions(start=start, end=end)
check_outputs(Path(out))
t1 = time.perf_counter(); reg = load_register(cases, model, staff, options)
t2 = time.perf_counter(); found = compute(reg, options)
t3 = time.perf_counter(); write_folder(Path(out), lambda tmp: write_kpi(found, tmp))
t4 = time.perf_counter()
print(json.dumps({"cases": found.cases, "prosecutors": len(reg.staff), "rows": len(found.table),
                  "import": t1 - t0, "load": t2 - t1, "compute": t3 - t2, "write": t4 - t3,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[60, 240, 740], help="prosecutors")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="the register's table")
    parser.add_argument("--period", default="2025-07:2026-06")
    args = parser.parse_args()
    gen = load_script(ROOT / "scenarios" / "kpi" / "generate.py")
    rows = []
    for prosecutors in args.sizes:
        with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
            folder = Path(tmp)
            staff = gen.synthetic_staff(prosecutors, max(1, prosecutors // 20))
            staff.to_csv(folder / "staff.csv", index=False)
            cases = gen.generate(staff, seed=1)
            path = folder / f"cases.{args.format}"
            cases.to_csv(path, index=False) if args.format == "csv" else cases.to_parquet(path, index=False)
            del cases
            argv = [str(path), str(MODEL), str(folder / "staff.csv"), args.period]
            child = subprocess.run([sys.executable, "-c", CHILD, *argv, str(folder / "out")],
                                   capture_output=True, text=True, check=True)
            found = json.loads(child.stdout.strip().splitlines()[-1])
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "balancer", "kpi", argv[0], "--model", argv[1], "--staff", argv[2],
                            "--period", args.period, "--out", str(folder / "cli"), "-q"],
                           capture_output=True, check=True)
            found["cli"] = time.perf_counter() - start
            found["cli_peak_mib"] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
            found["bytes"] = path.stat().st_size
            rows.append(found)
            print(f"{prosecutors}: {found}", file=sys.stderr)
    print(f"| cases | prosecutors | {args.format} MB | load s | compute s | write s | `balancer kpi` s | "
          "peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['cases']:,} | {r['prosecutors']:,} | {r['bytes'] / 2**20:,.1f} | {r['load']:.2f} | "
              f"{r['compute']:.2f} | {r['write']:.2f} | {r['cli']:.2f} | {r['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
