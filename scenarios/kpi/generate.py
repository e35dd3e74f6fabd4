"""Generate the example case register (`python scenarios/kpi/generate.py`): `cases.csv` beside
this script, for `balancer kpi` with `../measure/model.yaml` and `../measure/staff.csv`.

A synthetic register exported on 2026-06-30: the example study's 60 prosecutors in 3 offices
(`../measure/staff.csv`) and its 15 case types (`../measure/generate.py`'s TYPES: each type's share
of case time and true weight give its share of cases), filed from 2024-01-01 on. Filings come at
about 1.2 times what the office's FTE can carry by the measured model, so the pending caseload
grows; fewer cases are filed in August and late December; a case's time to disposition is
lognormal around a median that grows with its weight, and disposals falling in August are often
put off until September (the holidays). Homicide goes to seniors only, corruption to its
specialists; most cases are assigned within a few days; a few recent ones are not yet assigned;
one prosecutor who left (P061, not in the staff table) still holds some old cases. None of it is a
real office's figure.

`generate(...)` is also used by the tests and by `benchmarks/kpi_bench.py` (a million cases).
"""

from __future__ import annotations

import argparse
import importlib.util
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MEASURE = HERE.parent / "measure"
START, EXPORT = date(2024, 1, 1), date(2026, 6, 30)
OUTCOMES = {"convicted": 0.45, "plea": 0.2, "dismissed": 0.2, "diverted": 0.1, "acquitted": 0.05}


def _types() -> dict:
    spec = importlib.util.spec_from_file_location("measure_generate", MEASURE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TYPES


def synthetic_staff(prosecutors: int, offices: int, seed: int = 1) -> pd.DataFrame:
    """A staff table like `../measure/staff.csv`, of any size (for the benchmark)."""
    rng = np.random.default_rng(seed)
    senior = rng.random(prosecutors) < 0.3
    corruption = rng.random(prosecutors) < 0.1
    return pd.DataFrame({"id": [f"P{i + 1:05d}" for i in range(prosecutors)],
                         "fte": np.where(rng.random(prosecutors) < 0.15, 0.5, 1.0),
                         "office": [f"office-{i % offices + 1:02d}" for i in range(prosecutors)],
                         "grade": np.where(senior, "senior", "junior"),
                         "specialisations": np.where(corruption, "corruption", "")})


def generate(staff: pd.DataFrame | None = None, start: date = START, export: date = EXPORT,
             load: float = 1.2, hours_per_fte: float = 1401.62, seed: int = 2026,
             leaver: bool = True) -> pd.DataFrame:
    """The register as a DataFrame (id, type, office, prosecutor, filed, assigned, disposed, outcome;
    dates as ISO text, empty where not yet known)."""
    rng = np.random.default_rng(seed)
    staff = pd.read_csv(MEASURE / "staff.csv", dtype={"specialisations": str}) if staff is None else staff
    types = _types()
    ids = list(types)
    weight = np.array([types[t][0] for t in ids])
    share = np.array([types[t][1] for t in ids])
    case_share = share / weight / (share / weight).sum()
    days = np.arange(np.datetime64(start), np.datetime64(export) + 1)
    # filings per day: the FTE's yearly hours × load, over the mean weight of a case; fewer in August
    # and at Christmas, none at weekends
    per_year = load * staff["fte"].sum() * hours_per_fte / float(case_share @ weight)
    month = days.astype("datetime64[M]").astype(int) % 12 + 1
    day_of_month = (days - days.astype("datetime64[M]")).astype(int) + 1
    weekday = (days.astype(int) + 3) % 7 < 5
    rate = weekday * np.where(month == 8, 0.6, 1.0) * np.where((month == 12) & (day_of_month > 20), 0.4, 1.0)
    rate = rate * per_year / rate.sum() * (len(days) / 365.25)
    n_day = rng.poisson(rate)
    filed = np.repeat(days, n_day)
    n = filed.size
    t = rng.choice(len(ids), size=n, p=case_share)
    # who: among those who may take the type, by fte
    fte = staff["fte"].to_numpy(float)
    senior = (staff["grade"] == "senior").to_numpy()
    special = staff["specialisations"].fillna("").str.contains("corruption").to_numpy()
    who = np.empty(n, np.int64)
    for j, name in enumerate(ids):
        mine = np.flatnonzero(t == j)
        allowed = senior if types[name][2] == "senior" else special if types[name][2] == "corruption" else np.ones(len(fte), bool)
        p = fte * allowed
        who[mine] = rng.choice(len(fte), size=mine.size, p=p / p.sum())
    prosecutor = staff["id"].to_numpy(dtype=object)[who]
    office = staff["office"].to_numpy(dtype=object)[who]
    # time to disposition: lognormal, median 25 days × sqrt(weight)
    median = 25 * np.sqrt(weight[t])
    took = np.round(rng.lognormal(np.log(median), 0.8)).astype(np.int64)
    disposed = filed + took.astype("timedelta64[D]")
    in_august = (disposed.astype("datetime64[M]").astype(int) % 12 + 1 == 8) & (rng.random(n) < 0.5)
    disposed = np.where(in_august, disposed + rng.integers(10, 32, n).astype("timedelta64[D]"), disposed)
    assigned = filed + np.minimum(rng.geometric(0.4, n) - 1, 30).astype("timedelta64[D]")
    open_ = disposed > np.datetime64(export)
    not_yet = assigned > np.datetime64(export)
    if leaver:  # a prosecutor who left in 2025: the oldest of their cases still open keep their name
        left = rng.random(n) < 0.002
        prosecutor = np.where(left & (filed < np.datetime64("2025-01-01")), "P061", prosecutor)
    outcome = rng.choice(list(OUTCOMES), size=n, p=list(OUTCOMES.values()))
    frame = pd.DataFrame({
        "id": [f"K{i + 1:07d}" for i in range(n)], "type": np.array(ids, dtype=object)[t], "office": office,
        "prosecutor": np.where(not_yet, None, prosecutor),
        "filed": filed.astype(str), "assigned": np.where(not_yet, None, assigned.astype(str)),
        "disposed": np.where(open_, None, disposed.astype(str)), "outcome": np.where(open_, None, outcome)})
    return frame


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for cases.csv")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    cases = generate(seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    cases.to_csv(args.out / "cases.csv", index=False)
    print(f"{len(cases):,} cases, {cases['disposed'].isna().sum():,} open on {EXPORT} -> {args.out / 'cases.csv'}")
