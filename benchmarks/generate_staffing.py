"""Synthetic staffing scenarios at national size, for ``staffing_bench.py``.

Writes ``DIR/scenario.yaml``, ``DIR/staff.csv`` and ``DIR/caseload.csv``: an inline catalogue of
15 case types over 5 specialisations and 3 grades, N offices with mixed FTE, and one year's
expected filings per office and type. Every office's workload differs (a log-normal intake
factor), so some offices need hires and others have time to spare, and the specialists are a
little scarcer than the generalists, so the answer depends on eligibility, not only on hours.

    python benchmarks/generate_staffing.py --offices 25 --staff 1000 --out benchmarks/_work/staffing-25x1000

or ``generate_staffing(out_dir, n_offices, n_staff, seed=0)``. Deterministic in its arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

GRADES = ["junior", "senior", "head"]
SPECIALISATIONS = ["general", "corruption", "economic", "violent", "juvenile"]
HOURS_PER_FTE = 1500.0

# id, weight (hours), specialisation, min_grade, filings per prosecutor-year of the office.
# Everybody holds `general`; the rest are held by 0–2 people in 3 each. The rates are set so that
# an office's work is ~88 % of its capacity before its intake factor.
CASE_TYPES: list[tuple[str, float, str, str | None, float]] = [
    ("traffic", 2.0, "general", None, 80.0),
    ("drugs_possession", 3.0, "general", None, 40.0),
    ("petty_theft", 4.0, "general", None, 40.0),
    ("minor_assault", 6.0, "general", None, 25.0),
    ("burglary", 10.0, "general", None, 14.0),
    ("simple_fraud", 18.0, "general", None, 6.0),
    ("public_order", 5.0, "general", None, 18.0),
    ("juvenile_offence", 8.0, "juvenile", None, 10.0),
    ("juvenile_violence", 20.0, "juvenile", "senior", 1.5),
    ("domestic_violence", 12.0, "violent", None, 7.0),
    ("homicide", 80.0, "violent", "senior", 0.4),
    ("tax_evasion", 30.0, "economic", None, 2.0),
    ("money_laundering", 60.0, "economic", "senior", 0.6),
    ("bribery", 40.0, "corruption", "senior", 0.9),
    ("grand_corruption", 120.0, "corruption", "head", 0.12),
]


def _staff(rng: np.random.Generator, n_offices: int, n_staff: int) -> pd.DataFrame:
    office = np.sort(rng.integers(0, n_offices, n_staff))
    office[:n_offices] = np.arange(n_offices)  # every office has someone
    office.sort()
    grade = rng.choice(3, n_staff, p=[0.5, 0.4, 0.1])
    n_other = rng.choice(3, n_staff, p=[0.3, 0.4, 0.3])
    ranks = rng.random((n_staff, 4)).argsort(axis=1).argsort(axis=1)
    specs = np.full(n_staff, "general", dtype=object)
    for j, name in enumerate(SPECIALISATIONS[1:]):
        specs[ranks[:, j] < n_other] += ";" + name
    fte = rng.choice([0.5, 0.6, 0.8, 0.9, 1.0], n_staff, p=[0.1, 0.05, 0.15, 0.1, 0.6])
    load = np.where(rng.random(n_staff) < 0.3, rng.uniform(0.05, 0.4, n_staff) * fte * HOURS_PER_FTE, 0.0)
    width = len(str(n_staff))
    return pd.DataFrame({"id": [f"P{i + 1:0{width}d}" for i in range(n_staff)], "fte": fte,
                         "specialisations": specs, "grade": np.array(GRADES)[grade],
                         "current_load_hours": np.round(load, 1), "office": [f"O{o + 1:03d}" for o in office]})


def _caseload(rng: np.random.Generator, staff: pd.DataFrame) -> pd.DataFrame:
    fte = staff.groupby("office", sort=True)["fte"].sum()
    factor = rng.lognormal(0.0, 0.15, len(fte))  # busy and quiet offices
    rows = []
    for (office, posts), f in zip(fte.items(), factor):
        for name, _, _, _, rate in CASE_TYPES:
            filings = rng.poisson(rate * posts * f)
            if filings:
                rows.append({"type": name, "filings": int(filings), "office": office})
    return pd.DataFrame(rows)


def generate_staffing(out_dir: str | Path, n_offices: int, n_staff: int, seed: int = 0) -> Path:
    """One staffing scenario into ``out_dir``; the path of its ``scenario.yaml``."""
    if not 1 <= n_offices <= n_staff:
        raise ValueError("need 1 ≤ offices ≤ staff")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n_offices, n_staff])
    staff = _staff(rng, n_offices, n_staff)
    staff.to_csv(out / "staff.csv", index=False)
    _caseload(rng, staff).to_csv(out / "caseload.csv", index=False)
    doc = {"name": f"staffing-{n_offices}x{n_staff}",
           "description": f"Synthetic: {n_offices} offices, {n_staff} prosecutors, one year's filings",
           "hours_per_fte": HOURS_PER_FTE, "grades": GRADES,
           "case_types": [{"id": n, "weight_hours": w, "specialisation": s,
                           **({"min_grade": g} if g else {})} for n, w, s, g, _ in CASE_TYPES],
           "staff": "staff.csv", "caseload": "caseload.csv"}
    path = out / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offices", type=int, required=True)
    ap.add_argument("--staff", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    print(generate_staffing(args.out, args.offices, args.staff, args.seed))


if __name__ == "__main__":
    main()
