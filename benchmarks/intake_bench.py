"""Daily intake over a generated year: does the day-by-day draw end where drawing the whole year at
once would, with and without a look-ahead, on a skewed and on a stationary case mix?

    python benchmarks/intake_bench.py --seeds 0,1,2,3    # 60 staff, 249 days, 3 draws each; ~35 min on 2 cores
    python benchmarks/intake_bench.py --staff 30 --days 60 --draws 1 --results /tmp/ib.md   # quick check
    python benchmarks/intake_bench.py --part scale        # 5,000 new against 1,000,000 held; a year at 100k

`--part year` (the default): for each year (`benchmarks/year.py`): the whole year drawn at once (`solve` on every case,
each excluding whoever is away the day it arrives, as the days must: `intake.as_drawn`), its
fluid leximin, and intake day by day with `policy.forecast` none, `caseload` and `caseload` with the generator's
`seasons` (wrong on the stationary mix, which has none), each drawn `--draws` times
(one draw's rounding moves a year's end by 2–3 points; the table gives medians and the range). Reported: the year's highest utilisation and spread after the last day, the largest
month-end and daily gap to the leximin of the cases so far (`days.csv`'s `gap_to_leximin`), cases
drawn to someone away that day, the median seconds a day and the peak memory. Each intake runs in a
process of its own, so the peak is its own. `--part scale`: two days of 5,000 new cases against
1,000,000 held (2,000 and 10,000 staff), and a year of 249 days of 100 new cases against 100,000 held (2,000
staff) with the resident memory after days 1, 10, 100 and 249 (`benchmarks/generate.py`, held
backlogs). Each part writes its own section of `benchmarks/results.md`.
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

from benchmarks.year import SEASONS, write_year  # noqa: E402

WORK = Path(__file__).resolve().parent / "_work"
RESULTS = Path(__file__).resolve().parent / "results.md"
MARK = "## Daily intake over a year (intake_bench.py)"
SCALE_MARK = "## Daily intake at scale (intake_bench.py --part scale)"
FORECASTS = {"none": None, "caseload": {"source": "caseload"},
             "caseload + seasons": {"source": "caseload", "seasons": SEASONS}}
"""The look-ahead of each run: none, the year's filings, and the filings with the generator's seasons
(on the stationary mix those seasons are wrong: it has none; what a wrong declaration costs)."""


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def at_once(folder: str) -> dict:
    """The year's cases as one backlog, drawn in one run, each excluding whoever is away the day it
    arrives (`intake.as_drawn`: the days' draws cannot give it to them either); and its fluid leximin."""
    import balancer
    from balancer.intake import as_drawn
    from balancer.scenario import load_new_cases

    sc = balancer.load_scenario(Path(folder) / "office.yaml")
    cases, _, _ = load_new_cases(Path(folder) / "new.csv", sc)
    whole = sc.__class__(**{**sc.__dict__, "cases": as_drawn(sc, cases)})
    t0 = time.perf_counter()
    result = balancer.solve(whole, seed=1)
    u = result.plan.staff["utilisation"]
    return {"max": float(u.max()), "spread": float(u.max() - u.min()),
            "leximin": float(np.nanmax(result.balance.target_utilisation)), "s": time.perf_counter() - t0}


def day_by_day(folder: str, forecast: dict | None, seed: int = 7) -> dict:
    """The year through `run_intake`, with `policy.forecast` set to `forecast`, drawn with `seed`."""
    import balancer
    from balancer.intake import run_intake
    from balancer.scenario import Forecast, load_new_cases

    sc = balancer.load_scenario(Path(folder) / "office.yaml")
    policy = sc.policy.model_copy(update={"forecast": Forecast(**forecast) if forecast else None})
    sc = sc.__class__(**{**sc.__dict__, "policy": policy})
    cases, name, sha = load_new_cases(Path(folder) / "new.csv", sc)
    times, t0 = [], time.perf_counter()
    intake = run_intake(sc, cases, file=name, sha256=sha, seed=seed)
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


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def scale_day(path: str, n_days: int) -> dict:
    """`run_intake` on a generated held backlog: seconds for the days (loading excluded), the
    resident memory after some of them, and the peak."""
    import balancer
    from balancer.intake import run_intake
    from balancer.scenario import load_new_cases

    t0 = time.perf_counter()
    sc = balancer.load_scenario(path)
    new, name, sha = load_new_cases(Path(path).parent / "new.csv", sc)
    if n_days > 1:  # spread the new cases over working days
        days = pd.bdate_range("2025-01-02", periods=n_days).date
        new = new.assign(date=[days[i % n_days] for i in range(len(new))])
    load_s, rss, times = time.perf_counter() - t0, {}, []
    t1 = time.perf_counter()

    def sample(result, key, about):
        times.append(time.perf_counter())
        if about["day"] in (1, 10, 100, 249, n_days):
            rss[about["day"]] = round(_rss_mib())

    intake = run_intake(sc, new, file=name, sha256=sha, seed=3, on_day=sample)
    per_day = np.diff([t1, *times])
    later = per_day[1:] if len(per_day) > 1 else per_day
    return {"held": int(sc.cases["assigned_to"].notna().sum()), "staff": len(sc.staff), "new": len(new),
            "days": len(intake.days), "load_s": load_s, "first_s": float(per_day[0]),
            "day_s_median": float(np.median(later)), "day_s_max": float(later.max()),
            "total_s": float(sum(per_day)), "rss_mib": rss,
            "steps": {k: round(v, 2) for k, v in intake.days[-1].result.timings.items() if v >= 0.05},
            "edges": [int(intake.days[-1].result.problem.n_edges), int(intake.days[-1].result.pool.n_edges)],
            "peak_mib": _peak_mib(), "status": intake.status.value}


def scale(results: Path) -> None:
    from benchmarks.generate import generate

    rows = []
    # 1M held at 2,000 and at 10,000 staff: a day's cost follows the staff and the types (the
    # edges), not the cases held
    for cases, staff, new, days in ((1_000_000, 2_000, 10_000, 2), (1_000_000, 10_000, 10_000, 2),
                                    (100_000, 2_000, 24_900, 249)):
        path = generate(WORK / f"intake-{cases}x{staff}-{new}", cases, staff, held=True, new_cases=new)
        r = _in_process(scale_day, str(path), days)
        print(json.dumps(r), flush=True)
        rows.append([f"{r['held']:,}", f"{r['staff']:,}", f"{r['new'] // r['days']:,}", str(r["days"]), f"{r['load_s']:.1f}",
                     f"{r['first_s']:.2f}", f"{r['day_s_median']:.2f}", f"{r['day_s_max']:.2f}", f"{r['total_s']:.1f}",
                     ", ".join(f"day {d}: {m}" for d, m in r["rss_mib"].items()), f"{r['peak_mib']:.0f}",
                     "{:,} → {:,}".format(*r["edges"]), ", ".join(f"{k} {v}" for k, v in r["steps"].items()), r["status"]])
    head = ["held", "staff", "new cases a day", "days", "load s", "first day s", "later days s (median)",
            "later days s (max)", "days total s",
            "resident MiB after", "peak MiB", "last day's edges → drawn on", "last day's steps ≥ 0.05 s", "status"]
    _write_section(results, "scale", SCALE_MARK, "Held cases are folded into their holders' loads; the first day also "
                   "draws the forced moves (holders who left) and sets up: the held cases folded, every day's register "
                   "key hashed (`day_digests`, over the whole scenario). Loading the scenario is not a day's work. *drawn on*: "
                   "the edges left after `lottery.busy_only` drops whoever the day's profile gives nothing.", head, rows)


def _write_section(path: Path, name: str, title: str, intro: str, head: list[str], rows: list[list[str]]) -> None:
    """This script's part `name` of results.md, through the one writer every benchmark uses."""
    from benchmarks.run import markdown_table, write_section

    text = f"{title}\n\n{intro}\n\n{markdown_table(head, rows)}\n"
    print("\n" + text)
    write_section(path, f"<!-- intake_bench {name}: start -->", f"<!-- intake_bench {name}: end -->", text)


def _in_process(fn, *args) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _call(job: tuple) -> dict:
    fn, args = job
    return fn(*args)


def _year_row(seed: int, mix: str, forecast: str, once: dict, runs: list[dict]) -> list[str]:
    """One table row: a year's draws summarised (median, and the range when there are several)."""
    above = [(r["max"] - once["max"]) * 100 for r in runs]
    month = [r["month_gap"] * 100 for r in runs]
    spread = [r["spread"] * 100 for r in runs]
    span = lambda v: f" ({min(v):+.1f} to {max(v):+.1f})" if len(v) > 1 else ""  # noqa: E731
    mid = lambda v: float(np.median(v))  # noqa: E731
    return [str(seed), mix, forecast, str(len(runs)), f"{mid([r['max'] for r in runs]):.1%}", f"{once['max']:.1%}",
            f"{mid(above):+.1f}{span(above)}", f"{once['leximin']:.1%}", f"{mid(spread):.1f} / {once['spread'] * 100:.1f}",
            f"{mid(month):.1f}", f"{mid([r['day_gap'] * 100 for r in runs]):.1f}", str(sum(r["away"] for r in runs)),
            f"{mid([r['s_day'] for r in runs]):.3f}", f"{max(r['mib'] for r in runs):.0f}",
            ", ".join(sorted({r["status"] for r in runs}))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staff", type=int, default=60)
    ap.add_argument("--days", type=int, default=249)
    ap.add_argument("--forecasts", default=",".join(FORECASTS))
    ap.add_argument("--seeds", default="0", help="years to generate (benchmarks/year.py's seed), e.g. 0,1,2,3")
    ap.add_argument("--draws", type=int, default=3, help="draws of each year (intake's seeds 7, 8, …): one draw's "
                    "rounding moves a year's end by 2–3 points")
    ap.add_argument("--jobs", type=int, default=2, help="processes (each intake in a fresh one: its peak is its own)")
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--part", choices=["year", "scale"], default="year")
    a = ap.parse_args(argv)
    if a.part == "scale":
        scale(Path(a.results))
        return 0
    years = [(int(x), m) for x in a.seeds.split(",") for m in ("skewed", "stationary")]
    folders = {}
    for seed, mix in years:
        folders[seed, mix] = WORK / (f"year-{mix}-{a.staff}x{a.days}" + (f"-s{seed}" if seed else ""))
        write_year(folders[seed, mix], skewed=mix == "skewed", staff=a.staff, days=a.days, seed=seed)
    names = a.forecasts.split(",")
    jobs = [(at_once, (str(folders[y]),)) for y in years]
    jobs += [(day_by_day, (str(folders[y]), FORECASTS[n], 7 + d)) for y in years for n in names for d in range(a.draws)]
    with mp.get_context("spawn").Pool(a.jobs, maxtasksperchild=1) as pool:
        done = pool.map(_call, jobs, chunksize=1)
    once = dict(zip(years, done[:len(years)]))
    runs = iter(done[len(years):])
    rows = []
    for y in years:
        for name in names:
            got = [next(runs) for _ in range(a.draws)]
            print(json.dumps({"seed": y[0], "mix": y[1], "forecast": name, "runs": got, "at_once": once[y]}), flush=True)
            rows.append(_year_row(y[0], y[1], name, once[y], got))
    head = ["year (seed)", "mix", "forecast", "draws", "max after the year", "at once", "points above (range)",
            "fluid leximin", "spread (pts) intake / at once", "worst month-end gap (pts)", "worst daily gap (pts)",
            "cases to someone away", "s / day", "peak MiB", "status"]
    _write_section(Path(a.results), "year", MARK, f"{a.staff} prosecutors, {a.days} working days (`benchmarks/year.py`); "
                   f"tolerance 0.05; {a.draws} draws of each year (intake's seeds 7 to {6 + a.draws}): medians, and the "
                   "range of the points above; each intake in a process of its own; 'at once': the same cases in one "
                   "run, each excluding whoever was away the day it arrived (`intake.as_drawn`); gaps are to the fluid "
                   "leximin of the cases allocated so far, each to those present the day it arrived; 'caseload + seasons' "
                   "gives the generator's seasons (`year.SEASONS`), which on the stationary mix are wrong.", head, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
