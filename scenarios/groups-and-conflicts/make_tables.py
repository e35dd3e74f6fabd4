"""Regenerate cases.csv for scenarios/groups-and-conflicts.yaml (deterministic: fixed seed).

    python scenarios/groups-and-conflicts/make_tables.py

Staff ids (G01-G15) and case types refer to the inline staff and case_types of the scenario.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEED = 20250401
HERE = Path(__file__).resolve().parent

# Groups of related cases that go to one prosecutor together: (group id, member types).
# Common eligible prosecutors in brackets (before exclusions).
GROUPS = [
    ("GRP-01", ["fraud", "corruption", "fraud"]),        # G01 G02 G03
    ("GRP-02", ["cybercrime", "fraud", "theft"]),        # G05 G06 G07
    ("GRP-03", ["assault", "assault", "homicide"]),      # the 8 senior and head prosecutors
    ("GRP-04", ["drugs", "drugs", "drugs", "drugs"]),    # everyone
    ("GRP-05", ["theft", "drugs"]),                      # everyone
    ("GRP-06", ["homicide", "assault", "drugs"]),        # senior and head
    ("GRP-07", ["theft", "theft"]),                      # everyone
]
# Conflicts of interest: (type, excluded staff, group or None). 15 cases; three are group members
# (the group's common eligible set keeps at least two prosecutors). One corruption case is left
# with a single eligible prosecutor on purpose: a forced assignment the checks should report.
EXCLUSIONS = [
    ("corruption", ["G01"], None),
    ("corruption", ["G02", "G03"], None),   # leaves G01 only: a case with a single candidate
    ("cybercrime", ["G05"], None),
    ("cybercrime", ["G06"], None),
    ("homicide", ["G08"], None),
    ("fraud", ["G09", "G14"], None),
    ("fraud", ["G12"], None),
    ("assault", ["G11"], None),
    ("assault", ["G04", "G15"], None),
    ("drugs", ["G13"], None),
    ("theft", ["G10"], None),
    ("theft", ["G06", "G08"], None),
    ("corruption", ["G02"], "GRP-01"),      # group GRP-01 keeps G01 and G03
    ("theft", ["G07"], "GRP-02"),           # group GRP-02 keeps G05 and G06
    ("drugs", ["G08", "G09"], "GRP-05"),
]
# Cases with a current holder (rebalancing): (type, assigned_to).
ASSIGNED = [("theft", "G11"), ("cybercrime", "G06")]
# Remaining ungrouped, unconflicted cases by type; the total is 150.
PLAIN = {"theft": 31, "assault": 26, "drugs": 20, "fraud": 19, "homicide": 4, "cybercrime": 11, "corruption": 5}


def main() -> None:
    rng = np.random.default_rng(SEED)
    records: list[dict] = []
    for gid, types in GROUPS:
        for t in types:
            records.append({"type": t, "group": gid, "excluded": "", "assigned_to": ""})
    for t, excl, gid in EXCLUSIONS:
        if gid is None:
            records.append({"type": t, "group": "", "excluded": ";".join(excl), "assigned_to": ""})
        else:  # put the conflict on the first group member of that type
            rec = next(r for r in records if r["group"] == gid and r["type"] == t and not r["excluded"])
            rec["excluded"] = ";".join(excl)
    for t, holder in ASSIGNED:
        records.append({"type": t, "group": "", "excluded": "", "assigned_to": holder})
    for t, k in PLAIN.items():
        records += [{"type": t, "group": "", "excluded": "", "assigned_to": ""} for _ in range(k)]
    order = rng.permutation(len(records))
    rows = [{"id": f"Q2-{i:03d}", "weight_hours": "", **records[j]} for i, j in enumerate(order, 1)]
    # two per-case weight overrides on ungrouped cases: a quick theft, a heavy fraud
    for t, w in [("theft", 8.0), ("fraud", 45.0)]:
        pos = rng.choice([i for i, r in enumerate(rows) if r["type"] == t and not r["group"]])
        rows[int(pos)]["weight_hours"] = w
    fields = ["id", "type", "weight_hours", "group", "excluded", "assigned_to"]
    with (HERE / "cases.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
