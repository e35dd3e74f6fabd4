"""The CLI and the output contract (README, "Outputs"), and that it matches the Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import balancer
from tests.conftest import ROOT

DEMO = ROOT / "scenarios" / "demo-office.yaml"
ASSIGNMENT_COLUMNS = ["case_id", "staff_id", "weight_hours", "probability"]
STAFF_COLUMNS = ["staff_id", "capacity_hours", "base_load_hours", "assigned_hours", "load_hours",
                 "utilisation", "target_utilisation", "cases"]


def balancer_cli(*args):
    return subprocess.run([sys.executable, "-m", "balancer", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"  # the register goes beside it, in this test's folder
    done = balancer_cli("run", DEMO, "--out", out, "--seed", 42, "--reason", "a test's fixed seed",
                        "--format", "parquet", "--format", "xlsx")
    return done, out


def test_run_writes_the_contract(demo_run):
    done, out = demo_run
    assert done.returncode == 0, done.stderr
    assignments = pd.read_csv(out / "assignments.csv", dtype={"case_id": str, "staff_id": str})
    staff = pd.read_csv(out / "staff.csv", dtype={"staff_id": str})
    # the contract's columns come first, in order; columns added later come after them
    assert list(assignments.columns)[:len(ASSIGNMENT_COLUMNS)] == ASSIGNMENT_COLUMNS
    assert list(staff.columns)[:len(STAFF_COLUMNS)] == STAFF_COLUMNS
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "demo-office" and summary["seed"] == 42
    assert summary["status"] == "done"
    assert set(summary["inputs"]) == {"demo-office.yaml", "../models/demo.yaml"}
    assert len(summary["inputs_sha256"]) == 64
    assert summary["version"] == balancer.pipeline.package_version()
    for key in ("max_utilisation", "min_utilisation", "mean_utilisation", "spread", "gini",
                "max_distance_from_target_hours", "max_probability", "mean_max_probability",
                "support_size", "mean_entropy", "mean_effective_candidates"):
        assert key in summary["metrics"]
    assert set(summary["timings"]) >= {"compile", "check", "balance", "design", "draw", "plan"}
    # other formats hold the same tables; no temporary files are left behind
    parquet = pd.read_parquet(out / "assignments.parquet")  # typed: no group is None there, NaN in CSV
    assert list(parquet.columns) == list(assignments.columns)
    pd.testing.assert_frame_equal(parquet[ASSIGNMENT_COLUMNS], assignments[ASSIGNMENT_COLUMNS], check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_excel(out / "plan.xlsx", sheet_name="Staff", dtype={"staff_id": str}),
                                  staff, check_dtype=False)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_run_prints_loads_and_headline(demo_run):
    done, _ = demo_run
    assert "the most loaded prosecutors" in done.stdout and "before" in done.stdout
    assert "equally likely candidates per case" in done.stdout  # in plain words; the statistics are in the report
    assert "entropy" not in done.stdout
    assert "seed 42" in done.stdout


def test_python_api_gives_what_the_cli_gives(demo_run, tmp_path):
    _, out = demo_run
    result = balancer.solve(balancer.load_scenario(DEMO), seed=42)
    balancer.write_outputs(result, tmp_path)
    assert (tmp_path / "assignments.csv").read_bytes() == (out / "assignments.csv").read_bytes()
    assert (tmp_path / "staff.csv").read_bytes() == (out / "staff.csv").read_bytes()


def test_validate_checks_without_solving(tmp_path):
    done = balancer_cli("validate", DEMO)
    assert done.returncode == 0 and "valid" in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("tolerance:", "tolerence:"))
    done = balancer_cli("validate", bad)
    assert done.returncode == 2
    assert "tolerence" in done.stderr and "bad.yaml:" in done.stderr and "Traceback" not in done.stderr


def test_quiet_prints_nothing_on_success(tmp_path):
    done = balancer_cli("run", DEMO, "--out", tmp_path / "out", "--quiet")
    assert done.returncode == 0 and done.stdout == ""


def test_a_scenario_without_cases_is_refused_clearly(tmp_path):
    scenario = tmp_path / "staffing.yaml"
    scenario.write_text("""\
name: staffing-only
case_types: [{id: theft, weight_hours: 5}]
staff: [{id: A, fte: 1}]
caseload: [{type: theft, filings: 100}]
""")
    done = balancer_cli("run", scenario, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert "staffing.yaml" in done.stderr and "'cases'" in done.stderr and "Traceback" not in done.stderr


def test_probability_table_matches_the_assignments(tmp_path):
    table_path = tmp_path / "pi.csv"
    done = balancer_cli("run", DEMO, "--out", tmp_path / "out", "--seed", 5, "--reason", "test",
                        "--probabilities", table_path)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(table_path, dtype={"staff_id": str})
    # each class's probabilities form a distribution over its eligible prosecutors
    sums = table.groupby("class")["probability"].sum()
    assert ((sums - 1).abs() < 1e-9).all()
    assert ((table["probability"] > 0) & (table["probability"] <= 1)).all()
    # every drawn pair appears in the table with the probability assignments.csv reports
    assignments = pd.read_csv(tmp_path / "out" / "assignments.csv", dtype={"staff_id": str})
    pairs = set(zip(table["staff_id"], table["probability"]))  # CSV keeps floats exactly
    assert all(pair in pairs for pair in zip(assignments["staff_id"], assignments["probability"]))


def test_probability_table_needs_a_known_format(tmp_path):
    done = balancer_cli("run", DEMO, "--out", tmp_path / "out", "--probabilities", tmp_path / "pi.txt")
    assert done.returncode == 2 and "pi.txt" in done.stderr


def test_outputs_are_ordinary_files_and_the_seed_file_is_private(demo_run, tmp_path):
    _, out = demo_run
    mask = os.umask(0)
    os.umask(mask)
    assert (out / "assignments.csv").stat().st_mode & 0o777 == 0o666 & ~mask
    sealed = tmp_path / "sealed.json"
    assert balancer_cli("commit", DEMO, "--seed-file", sealed, "--register", tmp_path / "r.sqlite").returncode == 0
    assert sealed.stat().st_mode & 0o777 == 0o600
