"""Generate the example time study's tables (`python scenarios/measure/generate.py`).

A synthetic office with known true weights: 60 prosecutors in 3 offices log their time for 8 weeks
on 15 case types and 3 non-case activities. Each prosecutor receives cases of each type they may
take at a rate proportional to their fte; one case's work is drawn around its type's true weight
(gamma, times a prosecutor's own pace), spread over 1–5 records on working days of the period.
Some of what real studies show is put in on purpose: a rare type (homicide), a type only a few
specialists take (corruption), a prosecutor away two weeks without logging it, a few records
under a type nobody defined. `study.yaml` beside this script names the tables it writes.

`generate(...)` is also used by the tests (smaller studies, many seeds) and by
`benchmarks/measure_bench.py` (a million records).
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
START = date(2026, 3, 2)

# id: (true weight in hours, share of case time, who may take it)
TYPES = {
    "homicide": (60.0, 0.04, "senior"),
    "sexual-offence": (25.0, 0.06, None),
    "robbery": (12.0, 0.06, None),
    "serious-assault": (8.0, 0.08, None),
    "burglary": (4.0, 0.08, None),
    "fraud": (10.0, 0.08, None),
    "corruption": (30.0, 0.05, "corruption"),
    "drug-trafficking": (9.0, 0.07, None),
    "drug-possession": (1.5, 0.06, None),
    "theft": (1.2, 0.09, None),
    "domestic-violence": (5.0, 0.09, None),
    "juvenile": (3.0, 0.06, None),
    "traffic-offence": (0.8, 0.07, None),
    "public-order": (1.0, 0.05, None),
    "cybercrime": (14.0, 0.06, None),
}
NON_CASE = {"administration": 45.0, "training": 12.0, "meetings": 25.0}
"""Non-case activities: mean minutes a day."""


def working_days(start: date, weeks: int) -> list[date]:
    days = [start + timedelta(d) for d in range(7 * weeks)]
    return [d for d in days if d.weekday() < 5]


def generate(folder: Path | None = None, prosecutors: int = 60, weeks: int = 8, types: dict | None = None,
             seed: int = 2026, case_hours_per_day: float = 6.5, pace_sigma: float = 0.2,
             imperfections: bool = True, offices: tuple[str, ...] = ("north", "central", "south")) -> dict:
    """Generate a study; write staff.csv, time.csv, cases.csv into `folder` when given. Returns the
    frames, the true weights (hours) and the period."""
    rng = np.random.default_rng(seed)
    types = TYPES if types is None else types
    ids = list(types)
    weight = np.array([types[t][0] for t in ids])
    share = np.array([types[t][1] for t in ids])
    share = share / share.sum()
    days = working_days(START, weeks)
    # staff: offices by size, a few part-timers, seniors, corruption specialists
    office = np.array([offices[i % len(offices)] for i in range(prosecutors)], dtype=object)
    fte = np.where(rng.random(prosecutors) < 0.15, 0.5, 1.0)
    senior = rng.random(prosecutors) < 0.3
    corruption = np.zeros(prosecutors, bool)
    corruption[rng.choice(prosecutors, size=max(2, prosecutors // 12), replace=False)] = True
    staff = pd.DataFrame({"id": [f"P{i + 1:03d}" for i in range(prosecutors)], "fte": fte, "office": office,
                          "grade": np.where(senior, "senior", "junior"),
                          "specialisations": np.where(corruption, "corruption", "")})
    eligible = np.ones((prosecutors, len(ids)), bool)
    for j, t in enumerate(ids):
        who = types[t][2]
        if who == "senior":
            eligible[:, j] = senior
        elif who == "corruption":
            eligible[:, j] = corruption
    # expected cases: the office's case minutes by type, spread over eligible prosecutors by fte
    office_minutes = case_hours_per_day * 60 * len(days) * fte.sum()
    per_type_cases = office_minutes * share / (weight * 60)
    rate = eligible * fte[:, None]
    rate = rate / np.maximum(rate.sum(axis=0), 1e-12) * per_type_cases
    counts = rng.poisson(rate)
    pace = np.exp(rng.normal(-pace_sigma ** 2 / 2, pace_sigma, prosecutors))
    case_p, case_t = np.nonzero(counts)
    reps = counts[case_p, case_t]
    case_p, case_t = np.repeat(case_p, reps), np.repeat(case_t, reps)
    n_cases = case_p.size
    shape = 2.0
    minutes = rng.gamma(shape, weight[case_t] * 60 * pace[case_p] / shape)
    arrival = rng.integers(0, len(days), n_cases)
    cases = pd.DataFrame({"id": [f"C{i + 1:07d}" for i in range(n_cases)], "type": np.array(ids)[case_t],
                          "prosecutor": staff["id"].to_numpy()[case_p],
                          "date": [days[d].isoformat() for d in arrival]})
    # each case's minutes over 1–5 records, on working days from its arrival on
    k = 1 + np.minimum(rng.poisson(1.5, n_cases), 4)
    rec_case = np.repeat(np.arange(n_cases), k)
    parts = rng.random(rec_case.size) + 0.2
    sums = np.bincount(rec_case, weights=parts)
    rec_minutes = np.maximum(np.round(minutes[rec_case] * parts / sums[rec_case]), 1)
    rec_day = np.minimum(arrival[rec_case] + rng.integers(0, 15, rec_case.size), len(days) - 1)
    records = {"prosecutor": staff["id"].to_numpy()[case_p[rec_case]], "day": rec_day,
               "type": np.array(ids, dtype=object)[case_t[rec_case]], "minutes": rec_minutes,
               "case_id": cases["id"].to_numpy()[rec_case]}
    frames = [pd.DataFrame(records)]
    # non-case time: each prosecutor, each working day, each activity with some chance
    for activity, mean in NON_CASE.items():
        p_idx, d_idx = np.nonzero(rng.random((prosecutors, len(days))) < 0.6)
        frames.append(pd.DataFrame({"prosecutor": staff["id"].to_numpy()[p_idx], "day": d_idx, "type": activity,
                                    "minutes": np.maximum(np.round(rng.exponential(mean / 0.6, p_idx.size) * fte[p_idx]), 1),
                                    "case_id": None}))
    time = pd.concat(frames, ignore_index=True)
    if imperfections:
        away = staff["id"].iat[prosecutors // 2]  # two weeks away, not logged
        gap = (time["prosecutor"] == away) & (time["day"] >= 10) & (time["day"] < 20)
        time = time[~gap]
        odd = rng.choice(len(time), size=max(1, len(time) // 2000), replace=False)
        time.loc[time.index[odd], "type"] = "misc"
        time.loc[time.index[odd], "case_id"] = None
    time = time.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    day_text = np.array([d.isoformat() for d in days], dtype=object)
    time = pd.DataFrame({"prosecutor": time["prosecutor"], "date": day_text[time["day"].to_numpy()],
                         "type": time["type"], "minutes": time["minutes"].astype(np.int64), "case_id": time["case_id"]})
    out = {"staff": staff, "time": time, "cases": cases, "true_weights": dict(zip(ids, weight)),
           "period": (START, START + timedelta(7 * weeks - 1)), "specialisation": {t: types[t][2] for t in ids}}
    if folder is not None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        staff.to_csv(folder / "staff.csv", index=False)
        time.to_csv(folder / "time.csv", index=False)
        cases.to_csv(folder / "cases.csv", index=False)
    return out


def backlog(folder: Path, office: str = "north", seed: int = 7) -> pd.DataFrame:
    """`backlog.csv` for `office.yaml`: one office's new cases of a month, drawn from the example's
    case mix (`balancer run` allocates them with the measured model)."""
    made = generate(None, seed=2026)
    cases = made["cases"]
    staff = made["staff"]
    mine = cases[cases["prosecutor"].isin(staff["id"][staff["office"] == office])]
    month = mine.sample(frac=0.5, random_state=seed).sort_values("id")
    table = pd.DataFrame({"id": month["id"].str.replace("C", "N", n=1), "type": month["type"]})
    table.to_csv(Path(folder) / "backlog.csv", index=False)
    return table


def caseload(folder: Path, days: int = 56) -> pd.DataFrame:
    """`caseload.csv` for `staffing-measured.yaml`: the study's cases by type and office, × 365/days."""
    folder = Path(folder)
    cases = pd.read_csv(folder / "cases.csv", dtype=str)
    office = pd.read_csv(folder / "staff.csv", dtype=str).set_index("id")["office"]
    cases["office"] = cases["prosecutor"].map(office)
    table = cases.groupby(["type", "office"]).size().mul(365 / days).round().astype(int).rename("filings")
    table = table.reset_index()[["type", "filings", "office"]]
    table.to_csv(folder / "caseload.csv", index=False)
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for staff.csv, time.csv, cases.csv")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    made = generate(args.out, seed=args.seed)
    backlog(args.out)
    caseload(args.out)
    print(f"{len(made['time']):,} time records, {len(made['cases']):,} cases, {len(made['staff'])} prosecutors "
          f"-> {args.out}")
