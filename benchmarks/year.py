"""A generated year of daily intake for one office, with a skewed or a stationary case mix.

60 prosecutors (mixed FTE, three grades; 4 corruption, 3 cyber and 6 juvenile specialists), 249
working days, about 6,900 new cases of 13 types, the office about 92 % loaded at the year's end.
The skewed year has a corruption wave (×4.5, March–May), juvenile cases ×2.2 in July–August, cyber
×3 in October and domestic violence ×3 in December, one corruption specialist away in April and
one cyber specialist away in October. The stationary year has the same cases with their types
shuffled over the days (the same work, no seasons).

Usable as a library (`write_year(folder, skewed=True)`) or from the shell:

    python benchmarks/year.py --out benchmarks/_work/year [--stationary] [--staff 60 --days 249] [--start DAY]

Writes `office.yaml` (staff and model, no cases: a year starts empty; the expected filings as
`caseload`, and `policy.forecast` reading them, with the seasons in a skewed year) and `new.csv`
(`id, type, date`) for `balancer intake office.yaml new.csv`. A deterministic function of its arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# id, weight (hours), specialisation, min grade, share of cases
TYPES = [
    ("traffic", 2.0, None, None, 0.20),
    ("theft", 4.0, None, None, 0.17),
    ("drugs", 5.0, None, None, 0.10),
    ("assault", 6.0, None, None, 0.10),
    ("burglary", 10.0, None, None, 0.07),
    ("fraud", 18.0, None, None, 0.05),
    ("robbery", 20.0, None, "senior", 0.03),
    ("domestic_violence", 12.0, None, None, 0.07),
    ("sexual_offence", 30.0, None, "senior", 0.02),
    ("homicide", 80.0, None, "head", 0.005),
    ("juvenile", 8.0, "juvenile", None, 0.06),
    ("corruption", 50.0, "corruption", None, 0.005),
    ("cyber", 25.0, "cyber", None, 0.01),
]
SEASONS = {  # type → {month: factor}
    "corruption": {3: 4.5, 4: 4.5, 5: 4.5},
    "juvenile": {7: 2.2, 8: 2.2},
    "cyber": {10: 3.0},
    "domestic_violence": {12: 3.0},
}
SPECIALISTS = {"corruption": 4, "cyber": 3, "juvenile": 6}
HOURS_PER_FTE = 1600
LOAD = 0.92
"""Hours of the year's cases ÷ the office's capacity."""


def working_days(n: int, start: str = "2025-01-02") -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n)


def staff_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    fte = rng.choice([1.0, 1.0, 1.0, 0.8, 0.5], size=n)
    grade = rng.choice(["junior", "senior", "head"], size=n, p=[0.45, 0.4, 0.15])
    spec = [""] * n
    k = 0
    for name, count in SPECIALISTS.items():  # full-time specialists: a unit is staffed for its work
        for p in range(k, k + count):
            spec[p], fte[p] = name, 1.0
        k += count
    return pd.DataFrame({"id": [f"P{i + 1:02d}" for i in range(n)], "fte": fte, "grade": grade,
                         "specialisations": spec})


def daily_rates(days: pd.DatetimeIndex, skewed: bool) -> np.ndarray:
    """(days, types) expected cases a day, before scaling to the year's total."""
    share = np.array([t[4] for t in TYPES])
    rates = np.tile(share, (len(days), 1))
    if skewed:
        for j, (name, *_rest) in enumerate(TYPES):
            for month, factor in SEASONS.get(name, {}).items():
                rates[days.month == month, j] *= factor
    return rates


def expected_rates(days: pd.DatetimeIndex, capacity_hours: float) -> np.ndarray:
    """(days, types) expected cases a day of the skewed year, its hours `LOAD` × capacity."""
    weights = np.array([t[1] for t in TYPES])
    rates = daily_rates(days, skewed=True)
    return rates * LOAD * capacity_hours / (rates * weights).sum()


def year_cases(days: pd.DatetimeIndex, capacity_hours: float, skewed: bool, rng: np.random.Generator) -> pd.DataFrame:
    counts = rng.poisson(expected_rates(days, capacity_hours))
    day_idx, type_idx = np.nonzero(counts)
    reps = counts[day_idx, type_idx]
    day_of = np.repeat(day_idx, reps)
    type_of = np.repeat(type_idx, reps)
    if not skewed:  # the same cases, their types shuffled over the year
        type_of = rng.permutation(type_of)
    names = np.array([t[0] for t in TYPES])
    return pd.DataFrame({"id": [f"N{i + 1:05d}" for i in range(len(day_of))], "type": names[type_of],
                         "date": days[day_of].strftime("%Y-%m-%d")})


def office(staff: pd.DataFrame, days: pd.DatetimeIndex, filings: np.ndarray, skewed: bool) -> dict:
    """The scenario: the model inline, the staff with their absences, the period of the year, and
    the year's expected filings by type as its `caseload`, which `policy.forecast` reads (with the
    seasons the skewed year has)."""
    forecast = {"source": "caseload", **({"seasons": SEASONS} if skewed else {})}
    first, last = days[0].date(), days[-1].date()
    rows = []
    for r in staff.itertuples():
        row = {"id": r.id, "fte": float(r.fte), "grade": r.grade}
        if r.specialisations:
            row["specialisations"] = [r.specialisations]
        rows.append(row)
    away = {"corruption": ("2025-04-01", "2025-04-30"), "cyber": ("2025-10-01", "2025-10-31")}
    for name, (start, end) in away.items():  # the first specialist of each is away a month
        p = next(i for i, r in enumerate(rows) if r.get("specialisations") == [name])
        rows[p]["unavailable"] = [{"from": start, "to": end}]
    types = []
    for name, weight, spec, grade, _share in TYPES:
        t = {"id": name, "weight_hours": weight}
        if spec:
            t["specialisation"] = spec
        if grade:
            t["min_grade"] = grade
        types.append(t)
    return {"name": "generated-year", "description": "one office's year of daily intake (benchmarks/year.py)",
            "period": {"start": str(first), "end": str(last)},
            "case_types": types, "grades": ["junior", "senior", "head"], "hours_per_fte": HOURS_PER_FTE,
            "staff": rows, "cases": [],
            "caseload": [{"type": t[0], "filings": round(float(f), 1)} for t, f in zip(TYPES, filings)],
            "policy": {"tolerance": 0.05, "max_probability": 0.5, "forecast": forecast}}


def write_year(folder: str | Path, *, skewed: bool = True, staff: int = 60, days: int = 249, seed: int = 0,
               start: str = "2025-01-02") -> Path:
    """Write `office.yaml` and `new.csv` into `folder`; returns the scenario's path. `start` and
    `days`: a part of the year (the seasons stay in their months)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    team = staff_table(staff, rng)
    dates = working_days(days, start)
    period_share = ((dates[-1] - dates[0]).days + 1) / 365
    capacity = float(team["fte"].sum()) * HOURS_PER_FTE * period_share
    year_cases(dates, capacity, skewed, rng).to_csv(folder / "new.csv", index=False)
    path = folder / "office.yaml"
    filings = expected_rates(dates, capacity).sum(axis=0)
    path.write_text(yaml.safe_dump(office(team, dates, filings, skewed), sort_keys=False), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--stationary", action="store_true")
    ap.add_argument("--staff", type=int, default=60)
    ap.add_argument("--days", type=int, default=249)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", default="2025-01-02", help="the first working day (the seasons stay in their months)")
    a = ap.parse_args(argv)
    path = write_year(a.out, skewed=not a.stationary, staff=a.staff, days=a.days, seed=a.seed, start=a.start)
    n = len(pd.read_csv(Path(a.out) / "new.csv"))
    print(f"wrote {path} and new.csv: {n} cases over {a.days} working days, {a.staff} staff")


if __name__ == "__main__":
    main()
