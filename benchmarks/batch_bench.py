"""Batch speed: 200 variants of the regional scenario with `--jobs 2` against a plain loop.

    python benchmarks/batch_bench.py [--variants 200] [--repeat 3]

The plain loop is what an analyst would write without `balancer batch`: for each variant, load
the scenario, set the policy, solve and write the outputs, one after the other. The batch runs
the same 200 variants (a grid over tolerance × max_probability, fixed seed) through
`balancer.batch.run_batch` with 2 worker processes, `--force` so nothing is skipped. Prints a
markdown table with medians and the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import balancer
from balancer import batch

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "regional" / "regional.yaml"


def grid(n: int) -> dict[str, list[str]]:
    tolerances = [f"{t:.4f}" for t in np.linspace(0.0, 0.10, 20)]
    caps = [f"{q:.3f}" for q in np.linspace(0.2, 1.0, max(1, n // 20))]
    return {"policy.tolerance": tolerances, "policy.max_probability": caps}


def plain_loop(settings: list[dict[str, str]], out: Path) -> float:
    t0 = time.perf_counter()
    for i, s in enumerate(settings):
        sc = balancer.load_scenario(SCENARIO)
        sc.policy = sc.policy.model_copy(update={
            "tolerance": float(s["policy.tolerance"]), "max_probability": float(s["policy.max_probability"]),
            "seed": 1})
        balancer.write_outputs(balancer.solve(sc), out / str(i))
    return time.perf_counter() - t0


def batched(g: dict[str, list[str]], out: Path, jobs: int) -> float:
    t0 = time.perf_counter()
    planned = batch.plan_jobs([SCENARIO], out, {"policy.seed": "1"}, g, force=True)
    rows = batch.run_batch(planned, out, jobs)
    assert all(r["status"] == batch.DONE for r in rows), [r["error"] for r in rows if r["error"]]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    g = grid(args.variants)
    settings = [dict(zip(g, point)) for point in
                [(t, q) for t in g["policy.tolerance"] for q in g["policy.max_probability"]]]
    times = {"plain loop (1 process)": [], "balancer batch --jobs 1": [], "balancer batch --jobs 2": []}
    for _ in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
        try:
            times["plain loop (1 process)"].append(plain_loop(settings, work / "loop"))
            times["balancer batch --jobs 1"].append(batched(g, work / "b1", 1))
            times["balancer batch --jobs 2"].append(batched(g, work / "b2", 2))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(times["plain loop (1 process)"])
    print(f"{len(settings)} variants of {SCENARIO.relative_to(ROOT)} (6,000 cases, 60 staff), "
          f"median of {args.repeat}\n")
    print("| method | total s | per variant s | speed-up vs loop |\n|---|---:|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.1f} | {med / len(settings):.3f} | {base / med:.2f}× |")


if __name__ == "__main__":
    main()
