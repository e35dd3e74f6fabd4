"""Regenerate staff.csv and cases.csv for scenarios/regional/regional.yaml.

Deterministic (numpy Generator with a fixed seed): running it again rewrites the same bytes.

    python scenarios/regional/make_tables.py

The office has 60 prosecutors in three offices and a backlog of 6,000 cases over a half-year.
Numbers are chosen so that overall utilisation lands near 80-85 % and the cyber unit (5 people)
is noticeably tighter than the other specialist units.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEED = 20250101
HERE = Path(__file__).resolve().parent

# ---- staff -------------------------------------------------------------------------------
# (office, specialisations besides `general`, grade or None for a random one, how many)
STAFF_PLAN = [
    ("north", ["corruption"], "head", 1),
    ("north", ["corruption"], "senior", 2),
    ("north", ["cyber"], None, 2),
    ("north", ["financial"], None, 2),
    ("north", ["organised-crime"], None, 2),
    ("north", ["juvenile"], None, 3),
    ("north", [], None, 12),
    ("central", ["corruption"], "senior", 1),
    ("central", ["corruption"], "junior", 1),  # holds the line but is below its min_grade
    ("central", ["financial", "corruption"], "senior", 1),
    ("central", ["cyber"], None, 2),
    ("central", ["financial"], None, 2),
    ("central", ["organised-crime", "financial"], "head", 1),
    ("central", ["organised-crime"], None, 2),
    ("central", ["juvenile"], None, 3),
    ("central", [], None, 10),
    ("south", ["corruption"], "senior", 1),
    ("south", ["cyber"], None, 1),
    ("south", ["financial"], None, 1),
    ("south", ["organised-crime"], None, 1),
    ("south", ["juvenile"], None, 2),
    ("south", [], None, 7),
]
GRADES = ["junior", "senior", "head"]
GRADE_P = [0.45, 0.45, 0.10]
FTE_CHOICES = [1.0, 0.8, 0.6, 0.5]
FTE_P = [0.80, 0.10, 0.05, 0.05]
CAPACITY_HOURS_SHARE = 0.08  # staff given a fixed number of hours for the half-year instead of fte
LOADED_SHARE = 0.70  # staff already carrying work (current_load_hours > 0)

# ---- cases -------------------------------------------------------------------------------
CASE_COUNTS = {
    "traffic-offence": 1300,
    "theft": 1250,
    "drugs": 750,
    "assault": 750,
    "burglary": 500,
    "domestic-violence": 430,
    "juvenile-offence": 580,
    "cybercrime": 185,
    "financial-crime": 140,
    "organised-crime": 60,
    "corruption": 55,
}
# a few cases whose weight differs from their type's (position in the shuffled list, hours)
OVERRIDES = {
    "organised-crime": [160.0, 120.0],
    "corruption": [110.0],
    "financial-crime": [60.0, 8.0],
    "cybercrime": [40.0],
    "traffic-offence": [0.5, 0.5],
    "burglary": [12.0],
}


def make_staff(rng: np.random.Generator) -> list[dict]:
    rows: list[dict] = []
    n = 0
    for office, specs, grade, count in STAFF_PLAN:
        for _ in range(count):
            n += 1
            g = grade or str(rng.choice(GRADES, p=GRADE_P))
            row = {
                "id": f"S{n:03d}",
                "fte": "",
                "capacity_hours": "",
                "specialisations": ";".join(["general", *specs]),
                "grade": g,
                "current_load_hours": "",
                "office": office,
            }
            if rng.random() < CAPACITY_HOURS_SHARE:
                row["capacity_hours"] = int(rng.choice([400, 500, 600, 700]))
            else:
                row["fte"] = float(rng.choice(FTE_CHOICES, p=FTE_P))
            if rng.random() < LOADED_SHARE:
                row["current_load_hours"] = int(rng.integers(2, 41)) * 5  # 10-200 h
            rows.append(row)
    return rows


def make_cases(rng: np.random.Generator) -> list[dict]:
    types = np.concatenate([np.full(k, t, dtype=object) for t, k in CASE_COUNTS.items()])
    types = types[rng.permutation(len(types))]
    rows = [{"id": f"R25-{i:05d}", "type": str(t), "weight_hours": ""} for i, t in enumerate(types, 1)]
    for t, weights in OVERRIDES.items():
        positions = [i for i, r in enumerate(rows) if r["type"] == t]
        for pos, w in zip(rng.choice(positions, size=len(weights), replace=False), weights):
            rows[int(pos)]["weight_hours"] = w
    return rows


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(SEED)
    write(HERE / "staff.csv", make_staff(rng))
    write(HERE / "cases.csv", make_cases(rng))


if __name__ == "__main__":
    main()
