"""`balancer measure` speed and memory: generated time studies of ~17 thousand to ~1 million records.

    python benchmarks/measure_bench.py [--sizes 60x8 240x20 600x48] [--format csv|parquet]

Each size (prosecutors × weeks, 15 case types, the example's generator `scenarios/measure/generate.py`)
is written to a temporary folder, then measured in a fresh process (2,000 bootstrap replicates):
load (read and check the tables), compute (sums, bootstrap, warnings), write (the folder, whole),
the whole command as a user runs it (`balancer measure STUDY --out DIR`, interpreter start
included), and the process's peak RSS. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = (ROOT / "scenarios" / "measure" / "study.yaml").read_text()
sys.path.insert(0, str(ROOT))

from benchmarks.run import load_script  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from balancer.measure import load_study, measure, write_measure
from balancer.io import check_outputs, write_folder
study, out = Path(sys.argv[1]), Path(sys.argv[2])
check_outputs(out)
t1 = time.perf_counter(); data = load_study(study)
t2 = time.perf_counter(); found = measure(data)
t3 = time.perf_counter(); write_folder(out, lambda tmp: write_measure(data, found, tmp))
t4 = time.perf_counter()
print(json.dumps({"records": found.records, "prosecutors": len(data.staff), "import": t1 - t0, "load": t2 - t1,
                  "compute": t3 - t2, "write": t4 - t3,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["60x8", "240x20", "600x48"], help="PROSECUTORSxWEEKS")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="the time records' table")
    args = parser.parse_args()
    generate = load_script(ROOT / "scenarios" / "measure" / "generate.py").generate
    rows = []
    for size in args.sizes:
        prosecutors, weeks = map(int, size.split("x"))
        with tempfile.TemporaryDirectory(prefix="measure-bench-") as tmp:
            folder = Path(tmp)
            made = generate(folder, prosecutors=prosecutors, weeks=weeks, seed=1)
            end = made["period"][1]
            text = STUDY.replace("end: 2026-04-26", f"end: {end.isoformat()}")
            if args.format == "parquet":
                made["time"].to_parquet(folder / "time.parquet", index=False)
                text = text.replace("records: time.csv", "records: time.parquet")
            (folder / "study.yaml").write_text(text)
            child = subprocess.run([sys.executable, "-c", CHILD, str(folder / "study.yaml"), str(folder / "out")],
                                   capture_output=True, text=True, check=True)
            found = json.loads(child.stdout.strip().splitlines()[-1])
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "balancer", "measure", str(folder / "study.yaml"), "--out",
                            str(folder / "cli"), "-q"], capture_output=True, check=True)
            found["cli"] = time.perf_counter() - start
            found["bytes"] = (folder / f"time.{args.format}").stat().st_size
            rows.append(found)
            print(f"{size}: {found}", file=sys.stderr)
    print(f"| records | prosecutors | {args.format} MB | load s | compute s | write s | `balancer measure` s | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['records']:,} | {r['prosecutors']:,} | {r['bytes'] / 2**20:,.1f} | {r['load']:.2f} | "
              f"{r['compute']:.2f} | {r['write']:.2f} | {r['cli']:.2f} | {r['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
