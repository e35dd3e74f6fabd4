"""Regenerate cases.csv for scenarios/rebalance/rebalance.yaml (the staff are inline there).

Deterministic (numpy Generator with a fixed seed): running it again rewrites the same bytes.

    python scenarios/rebalance/make_tables.py

A district office one quarter into the year: 18 prosecutors hold 900 open cases, unevenly (the
allocation so far favoured a few people), and 60 new cases wait. Three things force moves: P03
has left (fte 0, still in the table so their cases can be traced), P07 is on leave for the whole
quarter, and one held case names its own holder in `excluded` (a conflict found later). P18 has
just joined and holds nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEED = 20250401
HERE = Path(__file__).resolve().parent

# As in rebalance.yaml: (id, fte, specialisations, grade, current_load_hours).
STAFF = [
    ("P01", 1.0, "general;corruption", "head", 40),
    ("P02", 1.0, "general;corruption", "senior", 20),
    ("P03", 0.0, "general;corruption", "senior", 0),
    ("P04", 1.0, "general;cyber", "senior", 10),
    ("P05", 1.0, "general;cyber", "junior", 0),
    ("P06", 0.8, "general;financial", "senior", 30),
    ("P07", 1.0, "general;financial", "junior", 0),
    ("P08", 1.0, "general;juvenile", "junior", 15),
    ("P09", 1.0, "general;juvenile", "senior", 0),
    ("P10", 1.0, "general", "junior", 0),
    ("P11", 1.0, "general", "junior", 25),
    ("P12", 0.5, "general", "senior", 0),
    ("P13", 1.0, "general", "senior", 0),
    ("P14", 1.0, "general;organised-crime", "senior", 20),
    ("P15", 1.0, "general;organised-crime", "junior", 0),
    ("P16", 1.0, "general", "junior", 0),
    ("P17", 0.6, "general", "junior", 10),
    ("P18", 1.0, "general", "junior", 0),
]
FAVOURED = {"P01": 3.0, "P04": 2.0, "P10": 2.5, "P11": 2.0, "P13": 1.5}  # the skew so far
NO_NEW_CASES = {"P18"}

TYPES = {  # type: (share of cases, specialisation or None, min grade or None)
    "traffic-offence": (0.22, None, None), "theft": (0.22, None, None), "drugs": (0.14, None, None),
    "assault": (0.13, None, None), "burglary": (0.09, None, None), "domestic-violence": (0.08, None, None),
    "juvenile-offence": (0.05, "juvenile", None), "cybercrime": (0.02, "cyber", None),
    "financial-crime": (0.01, "financial", None), "organised-crime": (0.008, "organised-crime", None),
    "corruption": (0.008, "corruption", "senior"),
}
N_HELD, N_NEW = 900, 60
GRADES = ["junior", "senior", "head"]


def main() -> None:
    rng = np.random.default_rng(SEED)
    types = list(TYPES)
    share = np.array([TYPES[t][0] for t in types])
    with open(HERE / "cases.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "type", "excluded", "assigned_to"])
        for i in range(N_HELD + N_NEW):
            t = types[rng.choice(len(types), p=share / share.sum())]
            holder = _holder(t, rng) if i < N_HELD else ""
            excluded = holder if i == 17 and holder else ""  # a conflict found after allocation
            w.writerow([f"C{i + 1:04d}", t, excluded, holder])


def _holder(case_type: str, rng: np.random.Generator) -> str:
    _, spec, min_grade = TYPES[case_type]
    ok = [s for s in STAFF if s[0] not in NO_NEW_CASES
          and (spec is None or spec in s[2].split(";"))
          and (min_grade is None or GRADES.index(s[3]) >= GRADES.index(min_grade))]
    weight = np.array([FAVOURED.get(s[0], 1.0) for s in ok])
    return ok[rng.choice(len(ok), p=weight / weight.sum())][0]


if __name__ == "__main__":
    main()
