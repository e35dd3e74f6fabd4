"""Rebalancing and daily intake at 100,000 held cases × 2,000 staff, against a fresh run.

    python benchmarks/rebalance_bench.py [--repeat 3]

Builds, from the synthetic 100k × 2,000 scenario of generate.py (in benchmarks/_work/), a held
backlog: the cases as one fresh draw left them, then 5 % of the general cases handed to 40
"favoured" prosecutors (the uneven allocation a rebalance has to undo) and 10 prosecutors gone
(fte 0: their cases must move); plus 1,000 new cases for one day of intake. Each row is measured in
fresh processes (median of --repeat) with the process's peak resident memory, and prints a table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
BASE = WORK / "100000x2000"
DIR = WORK / "rebalance-100000x2000"

ROWS = {
    "fresh run, 100k cases (baseline)": ("run", BASE / "scenario.yaml", {}),
    "rebalance 100k held, budget 1,000 moves (1 %)": ("run", DIR / "held.yaml", {"max": 1000}),
    "rebalance 100k held, no budget": ("run", DIR / "held.yaml", {}),
    "intake: 1,000 new against 100k held": ("intake", DIR / "held.yaml", {}),
    "fresh run of the 1,000 new cases alone": ("run", DIR / "new-alone.yaml", {}),
}


def build() -> None:
    """Write the held backlog, the new cases and their scenarios (once)."""
    import numpy as np
    import pandas as pd

    import balancer

    if (DIR / "held.yaml").exists():
        return
    if not BASE.exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--cases", "100000", "--staff", "2000",
                        "--out", str(BASE)], check=True)
    DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    sc = balancer.load_scenario(BASE / "scenario.yaml")
    holders = balancer.solve(sc, seed=1).plan.assignments["staff_id"].to_numpy(dtype=object)
    staff = pd.read_csv(BASE / "staff.csv", dtype=str)
    general = staff["specialisations"].str.contains("general").to_numpy()
    favoured = rng.choice(staff["id"][general], 40, replace=False)
    cases = pd.read_csv(BASE / "cases.csv", dtype=str, keep_default_na=False)
    gen_types = {t.id for t in sc.model.case_types if t.specialisation == "general"}
    pick = np.flatnonzero(cases["type"].isin(gen_types).to_numpy() & (cases["excluded"] == "").to_numpy())
    pick = rng.choice(pick, int(0.05 * len(pick)), replace=False)
    holders[pick] = rng.choice(favoured, len(pick))
    gone = rng.choice(staff["id"][~staff["id"].isin(favoured)], 10, replace=False)
    staff.loc[staff["id"].isin(gone), ["fte", "capacity_hours"]] = ["0", ""]
    cases.assign(assigned_to=holders).to_csv(DIR / "held.csv", index=False)
    staff.to_csv(DIR / "staff.csv", index=False)
    new = cases.sample(1000, random_state=3)[["id", "type"]].assign(id=[f"N{i:05d}" for i in range(1000)])
    new.assign(date="2025-01-02").to_csv(DIR / "new.csv", index=False)
    new.assign(excluded="").to_csv(DIR / "new-alone.csv", index=False)
    text = (BASE / "scenario.yaml").read_text()
    for name, table in (("held", "held.csv"), ("new-alone", "new-alone.csv")):
        (DIR / f"{name}.yaml").write_text(text.replace("staff: staff.csv", "staff: staff.csv")
                                          .replace("cases: cases.csv", f"cases: {table}"))


def one(kind: str, path: str, moves: dict) -> dict:
    """Run once in this process and report times and peak memory."""
    import dataclasses

    import balancer
    from balancer.scenario import Moves, load_new_cases

    t0 = time.perf_counter()
    sc = balancer.load_scenario(path)
    sc = dataclasses.replace(sc, policy=sc.policy.model_copy(update={"moves": Moves(**moves)}))
    t_load = time.perf_counter() - t0
    if kind == "intake":
        from balancer.intake import run_intake
        cases, name, sha = load_new_cases(DIR / "new.csv", sc)
        intake = run_intake(sc, cases, file=name, sha256=sha, seed=1)
        result = intake.days[-1].result
    else:
        result = balancer.solve(sc, seed=1)
    total = time.perf_counter() - t0
    rb = result.rebalance or {}
    return {"total": total, "load": t_load, "select": result.timings.get("select", 0.0),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "moves": rb.get("balance_moves"), "forced": rb.get("forced_moves"),
            "before": rb.get("utilisation_before", {}).get("max", result.metrics.get("max_utilisation_before")),
            "target": result.metrics["target_max_utilisation"], "after": result.metrics["max_utilisation"],
            "drawn": result.metrics.get("n_drawn_cases", result.metrics["n_cases"])}


def frontier_time() -> float:
    import balancer
    from balancer import rebalance
    from balancer.problem import compile_problem

    sc = balancer.load_scenario(DIR / "held.yaml")
    problem = compile_problem(sc)
    hold = rebalance.holding(sc, problem)
    t0 = time.perf_counter()
    rebalance.frontier(problem, hold, sc.policy.moves, list(range(0, 1001, 100)))
    return (time.perf_counter() - t0) / 11


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        kind, path, moves = args.one
        print(json.dumps(one(kind, path, json.loads(moves))))
        return
    build()
    print(f"| row | drawn cases | end to end (median of {args.repeat}) | select step | peak memory | "
          "moves (balance + forced) | max utilisation before → target → drawn |")
    print("|---|---|---|---|---|---|---|")
    for label, (kind, path, moves) in ROWS.items():
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--one", kind, str(path), json.dumps(moves)],
                                          check=True, capture_output=True, text=True).stdout)
                for _ in range(args.repeat)]
        med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
        r = runs[0]
        moved = f"{r['moves']} + {r['forced']}" if r["moves"] is not None else "—"
        before = f"{r['before']:.1%}" if r["before"] is not None else "—"
        print(f"| {label} | {r['drawn']:,} | {med('total'):.2f} s | {med('select'):.2f} s | "
              f"{med('peak_mib'):.0f} MiB | {moved} | {before} → {r['target']:.1%} → {r['after']:.1%} |", flush=True)
    print(f"\nfrontier at 100k: {frontier_time():.2f} s per budget point (11 points, 0…1,000)")


if __name__ == "__main__":
    main()
