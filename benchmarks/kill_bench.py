"""Killed runs at scale: every output folder a killed run leaves is one recorded draw, whole.

    python benchmarks/kill_bench.py                          # 100,000 cases × 2,000 staff, 30 kills
    python benchmarks/kill_bench.py --sizes 10000x200,100000x2000 --kills 30

For each size: a generated office (`benchmarks/generate.py`) is solved once; then, as in
`tests/test_kill.py` (whose `kill_runs` this calls), forked children record the draw and write the
run's folder (CSV and Parquet), and are killed at a random point of their recording (one in
three) or writing (the rest). Reported: kills, children killed while still running, kills that
landed while the folder was being written, folders found and how many of them are one recorded
draw whole, the register chain, and the side-by-side baseline — one uninterrupted record and
write — with the seconds of the whole check and the peak memory. The test suite runs the same
check at 10,000 cases; 100,000 runs here (and under `pytest -m slow`).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import markdown_table, print_table, write_section  # noqa: E402
from tests.test_kill import kill_runs, solved  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.md"
MARK = "## Killed runs (kill_bench.py)"
HEAD = ["cases × staff", "kills", "killed running", "while writing", "recorded", "folders", "whole",
        "chain", "record s", "write s (baseline)", "check s", "peak MiB"]


def one(n_cases: int, n_staff: int, kills: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        result = solved(Path(tmp) / "office", n_cases, n_staff)
        t0 = time.perf_counter()
        seen = kill_runs(result, Path(tmp), kills)
        took = time.perf_counter() - t0
    bad = {p.split(":")[0] for p in seen["problems"]}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [f"{n_cases:,} × {n_staff:,}", kills, seen["killed"], seen["while_writing"], seen["recorded"],
            seen["found"], seen["found"] - len(bad), "ok" if seen["chain_ok"] else "BROKEN",
            f"{seen['recording_s']:.2f}", f"{seen['writing_s']:.2f}", f"{took:.0f}", f"{peak:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000x2000", help="CASESxSTAFF,… (default: 100000x2000)")
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [one(*map(int, size.split("x")), args.kills) for size in args.sizes.split(",")]
    print_table("Killed runs: every folder found is one recorded draw, whole", HEAD, rows)
    write_section(args.results, "<!-- kill_bench: start -->", "<!-- kill_bench: end -->",
                  f"{MARK}\n\nEach kill lands at a random point of recording (1 in 3) or writing (the rest); "
                  "'whole' counts folders that are one recorded draw whose files all match the record. "
                  "Baseline: one uninterrupted record and write. Peak memory: the parent (solve included).\n\n"
                  + markdown_table(HEAD, rows))
    if any(r[5] != r[6] or r[7] != "ok" for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
