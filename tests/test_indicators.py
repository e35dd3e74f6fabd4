"""Indicators per office, specialisation and case type: they add up to the run's own tables, in
summary.json and on an 80-column console where no name is cut."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT

REGIONAL = ROOT / "scenarios" / "regional" / "regional.yaml"
REBALANCE = ROOT / "scenarios" / "rebalance.yaml"


@pytest.fixture(scope="module", params=[REGIONAL, REBALANCE], ids=["regional", "rebalance"])
def run(request, tmp_path_factory):
    """`balancer run` as a person runs it, on an 80-column terminal: (stdout, output folder)."""
    out = tmp_path_factory.mktemp("run") / "out"
    env = {**os.environ, "COLUMNS": "80", "BALANCER_REGISTER": str(out.parent / "register.sqlite")}
    done = subprocess.run([sys.executable, "-m", "balancer", "run", str(request.param), "--out", str(out)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout, out


def test_indicators_add_up_to_the_run_tables(run):
    _, out = run
    summary = json.loads((out / "summary.json").read_text())
    found = {k: pd.DataFrame(v) for k, v in summary["indicators"].items()}
    cases, staff = pd.read_csv(out / "assignments.csv"), pd.read_csv(out / "staff.csv")
    working = staff[staff["capacity_hours"] > 0]
    m = summary["metrics"]
    by_type = found["type"].set_index("type")
    counted = cases.groupby("case_type").agg(n=("case_id", "size"), h=("weight_hours", "sum"))
    assert by_type["cases"].to_dict() == counted["n"].to_dict()
    np.testing.assert_allclose(by_type["hours"], counted["h"].reindex(by_type.index))
    assert (by_type["prosecutors_given"] <= by_type["prosecutors_qualified"]).all()
    for dimension in set(found) - {"type"}:
        table = found[dimension]
        assert table["utilisation_max"].max() == pytest.approx(m["max_utilisation"])
        assert table["utilisation_min"].min() == pytest.approx(m["min_utilisation"])
        np.testing.assert_allclose(table["spread"], table["utilisation_max"] - table["utilisation_min"])
    if "office" in found:
        office = found["office"].set_index("office")
        assert office["cases"].sum() == len(cases) and office["prosecutors"].sum() == len(working)
        joined = cases.merge(staff[["staff_id", "office"]], on="staff_id", suffixes=("", "_of_staff"))
        assert (joined["office"] == joined["office_of_staff"]).all()  # assignments.csv names the office
        per_office = joined.groupby("office")["weight_hours"].sum()
        np.testing.assert_allclose(office["hours"], per_office.reindex(office.index))
    if "rebalance" in summary:
        moves = pd.read_csv(out / "moves.csv")
        assert by_type["moved"].sum() == len(moves) == summary["rebalance"]["moved_cases"]
        general = found["specialisation"].set_index("specialisation").loc["general"]
        everyone = set(working["staff_id"])  # every prosecutor here is a generalist
        assert general["moved_in"] == moves["to"].isin(everyone).sum()


def test_the_console_fits_80_columns_and_cuts_no_name(run):
    stdout, out = run
    lines = stdout.splitlines()
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    assert "…" not in stdout
    summary = json.loads((out / "summary.json").read_text())
    for dimension, rows in summary["indicators"].items():
        for row in rows:
            assert str(row[dimension]) in stdout, (dimension, row[dimension])
    for plain in ("most loaded", "fairest split", "equally likely candidates"):
        assert plain in stdout
    for statistic in ("nats", "entropy", "Gini", "π", "leximin"):
        assert statistic not in stdout
