"""Daily intake over a generated year: does the day-by-day draw end where drawing the whole year at
once would, with and without a look-ahead, on a skewed and on a stationary case mix?

    python benchmarks/intake_bench.py                    # 60 staff, 249 days; ~10 min on 2 cores
    python benchmarks/intake_bench.py --staff 30 --days 60 --results /tmp/ib.md   # quick check

For each year (`benchmarks/year.py`): the whole year drawn at once (`solve` on every case), its
fluid leximin, and intake day by day with `policy.forecast` none, `caseload` and `recent` (20
days). Reported: the year's highest utilisation and spread after the last day, the largest
month-end and daily gap to the leximin of the cases so far (`days.csv`'s `gap_to_leximin`), cases
drawn to someone away that day, the median seconds a day and the peak memory. Each intake runs in a
process of its own, so the peak is its own. Writes its section of `benchmarks/results.md`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.year import write_year  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work"
RESULTS = Path(__file__).resolve().parent / "results.md"
MARK = "## Daily intake over a year (intake_bench.py)"
FORECASTS = {"none": None, "caseload": {"source": "caseload"}, "recent": {"source": "recent", "days": 20}}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def at_once(folder: str) -> dict:
    """The year's cases as one backlog, drawn in one run; and its fluid leximin."""
    import balancer
    from balancer.scenario import load_new_cases

    sc = balancer.load_scenario(Path(folder) / "office.yaml")
    cases, _, _ = load_new_cases(Path(folder) / "new.csv", sc)
    whole = sc.__class__(**{**sc.__dict__, "cases": cases.drop(columns="date").assign(assigned_to=None)})
    t0 = time.perf_counter()
    result = balancer.solve(whole, seed=1)
    u = result.plan.staff["utilisation"]
    return {"max": float(u.max()), "spread": float(u.max() - u.min()),
            "leximin": float(np.nanmax(result.balance.target_utilisation)), "s": time.perf_counter() - t0}


def day_by_day(folder: str, forecast: dict | None) -> dict:
    """The year through `run_intake`, with `policy.forecast` set to `forecast`."""
    import balancer
    from balancer.intake import run_intake
    from balancer.scenario import Forecast, load_new_cases

    sc = balancer.load_scenario(Path(folder) / "office.yaml")
    policy = sc.policy.model_copy(update={"forecast": Forecast(**forecast) if forecast else None})
    sc = sc.__class__(**{**sc.__dict__, "policy": policy})
    cases, name, sha = load_new_cases(Path(folder) / "new.csv", sc)
    times, t0 = [], time.perf_counter()
    intake = run_intake(sc, cases, file=name, sha256=sha, seed=7)
    total = time.perf_counter() - t0
    days = intake.days_table()
    drawn = intake.assignments().merge(cases[["id", "date"]], left_on="case_id", right_on="id", suffixes=("", "_new"))
    spans = sc.staff.set_index("id")["unavailable"]
    away = sum(any(a <= d <= b for a, b in spans[s]) for s, d in zip(drawn["staff_id"], drawn["date_new"]))
    dates = pd.to_datetime(days["date"])
    month_end = days.groupby(dates.dt.to_period("M"))["gap_to_leximin"].last()
    u = intake.staff()["utilisation"]
    times = total / max(len(days), 1)
    return {"max": float(u.max()), "spread": float(u.max() - u.min()), "month_gap": float(month_end.max()),
            "day_gap": float(days["gap_to_leximin"].max()), "away": int(away), "s_day": times,
            "s": total, "mib": _peak_mib(), "status": intake.status.value}


def _in_process(fn, *args) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=60)
    ap.add_argument("--days", type=int, default=249)
    ap.add_argument("--forecasts", default=",".join(FORECASTS))
    ap.add_argument("--results", default=str(RESULTS))
    a = ap.parse_args(argv)
    rows = []
    for mix in ("skewed", "stationary"):
        folder = WORK / f"year-{mix}-{a.staff}x{a.days}"
        write_year(folder, skewed=mix == "skewed", staff=a.staff, days=a.days)
        once = _in_process(at_once, str(folder))
        for name in a.forecasts.split(","):
            r = _in_process(day_by_day, str(folder), FORECASTS[name])
            rows.append([mix, name, f"{r['max']:.1%}", f"{once['max']:.1%}", f"{(r['max'] - once['max']) * 100:+.1f}",
                         f"{once['leximin']:.1%}", f"{r['spread'] * 100:.1f} / {once['spread'] * 100:.1f}",
                         f"{r['month_gap'] * 100:.1f}", f"{r['day_gap'] * 100:.1f}", str(r["away"]),
                         f"{r['s_day']:.3f}", f"{r['mib']:.0f}", r["status"]])
            print(json.dumps({"mix": mix, "forecast": name, **r, "at_once": once}), flush=True)
    head = ["mix", "forecast", "max after the year", "at once", "points above", "fluid leximin",
            "spread (pts) intake / at once", "worst month-end gap (pts)", "worst daily gap (pts)",
            "cases to someone away", "s / day", "peak MiB", "status"]
    table = "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows])
    text = (f"{MARK}\n\n{a.staff} prosecutors, {a.days} working days (`benchmarks/year.py`); tolerance 0.05; "
            f"one process per intake; gaps are to the fluid leximin of the cases allocated so far.\n\n{table}\n")
    print("\n" + text)
    path = Path(a.results)
    old = path.read_text() if path.exists() else ""
    keep = old.split(MARK)[0].rstrip() + "\n\n" if MARK in old else (old.rstrip() + "\n\n" if old else "")
    rest = old.split(MARK, 1)[1].split("\n## ", 1)[1] if MARK in old and "\n## " in old.split(MARK, 1)[1] else ""
    path.write_text(keep + text + ("\n## " + rest if rest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
