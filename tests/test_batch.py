"""`balancer batch`: path expansion, variants and their precedence, isolation of bad scenarios,
resumption, parallel = serial, and no half-written output folders (balancer/batch.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from balancer import batch
from balancer.cli import app
from balancer.errors import InputError
from balancer.scenario import apply_settings, load_scenario
from tests.conftest import ROOT, write

DEMO = ROOT / "scenarios" / "demo-office.yaml"
GROUPS = ROOT / "scenarios" / "groups-and-conflicts.yaml"
OUTPUT_FILES = {"assignments.csv", "staff.csv", "summary.json", "variant.json"}

SMALL = """\
name: {name}
case_types:
  - {{id: theft, weight_hours: 6}}
  - {{id: cyber, weight_hours: 40, specialisation: cyber}}
staff:
  - {{id: A, capacity_hours: 100}}
  - {{id: B, capacity_hours: 100}}
cases:
  - {{id: C1, type: {kind}}}
  - {{id: C2, type: theft}}
"""
BROKEN = "name: broken\ncase_types: [{id: theft, weight_hours: 6}]\nstaff: [{id: A, capacity_hours: 100}]\n" \
         "cases: [{id: C1, type: theft, colour: red}]\n"


def small(tmp_path, name, kind="theft"):
    return write(tmp_path / f"{name}.yaml", SMALL.format(name=name, kind=kind))


def infeasible(tmp_path):
    return small(tmp_path, "nobody-qualified", kind="cyber")  # nobody holds `cyber`


def cli(*args):
    return CliRunner().invoke(app, ["batch", *map(str, args)])


def table(out):
    text = ["variant", "seed", "error", "output"]
    rows = pd.read_csv(out / "batch.csv", dtype=dict.fromkeys(text, str))
    return rows.fillna({c: "" for c in text})


def leftovers(out):
    return [p.name for p in out.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------------------------------


def test_folders_and_globs_expand_to_allocation_scenarios(tmp_path):
    a = small(tmp_path, "a")
    b = small(tmp_path / "sub", "b")
    write(tmp_path / "staffing-x.yaml", SMALL.format(name="x", kind="theft"))  # skipped by name
    write(tmp_path / "model.yaml", "name: m\ncase_types: [{id: t, weight_hours: 1}]\n")  # no cases
    write(tmp_path / "notes.txt", "not yaml")
    assert batch.expand_paths([tmp_path]) == [a, b]
    assert batch.expand_paths([str(tmp_path / "*.yaml")]) == [a]
    assert batch.expand_paths([str(tmp_path / "**" / "*.yaml")]) == [a, b]
    # a file named explicitly is taken as it is; duplicates once, in order given
    staffing = tmp_path / "staffing-x.yaml"
    assert batch.expand_paths([staffing, a, tmp_path]) == [staffing, a, b]
    shipped = batch.expand_paths([ROOT / "scenarios"])
    assert DEMO in shipped and GROUPS in shipped and not any(p.name.startswith("staffing-") for p in shipped)
    with pytest.raises(InputError, match="does not exist"):
        batch.expand_paths([tmp_path / "missing.yaml"])
    with pytest.raises(InputError, match="no file matches"):
        batch.expand_paths([str(tmp_path / "*.yml")])


def test_bad_scenarios_are_rows_not_the_end_of_the_batch(tmp_path):
    broken = write(tmp_path / "broken.yaml", BROKEN)
    impossible = infeasible(tmp_path)
    out = tmp_path / "out"
    done = cli(DEMO, broken, GROUPS, impossible, "--out", out, "--set", "policy.seed=1", "--jobs", 1, "--quiet")
    assert done.exit_code == 2, done.output
    rows = table(out)
    assert list(rows.columns) == list(batch.COLUMNS)
    assert list(rows["status"]) == ["done", "invalid", "done", "infeasible"]
    assert list(rows["scenario"]) == ["demo-office", "broken", "groups-and-conflicts", "nobody-qualified"]
    assert "colour" in rows["error"][1] and "broken.yaml" in rows["error"][1]
    assert "C1" in rows["error"][3]
    for name, extra in (("demo-office", set()), ("groups-and-conflicts", {"moves.csv"})):  # it holds cases
        assert {p.name for p in (out / name).iterdir()} == OUTPUT_FILES | extra
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["status"] == "done" and summary["seed"] == 1 and summary["register"] is None
    assert json.loads((out / "nobody-qualified" / "summary.json").read_text())["status"] == "infeasible"
    assert not (out / "broken").exists() and not leftovers(out)
    good = rows[rows["status"] == "done"]
    assert (good["seed"] == "1").all() and (good["max_utilisation"] >= good["min_utilisation"]).all()
    assert (good["seconds_total"] > 0).all() and good["inputs_sha256"].str.len().eq(64).all()
    assert list(good["output"]) == ["demo-office", "groups-and-conflicts"]
    # exit codes: infeasible alone → 1, all done → 0
    assert cli(impossible, DEMO, "--out", tmp_path / "o1", "-q").exit_code == 1
    assert cli(DEMO, "--out", tmp_path / "o2", "-q").exit_code == 0
    # a failed row exits as a failed run does (3); see test_exit_codes for the whole table


def test_grid_is_a_product_and_wins_over_set(tmp_path):
    grid = batch.parse_grid(["policy.tolerance=0,0.02", "model.hours_per_fte=1400,1600"])
    sets = batch.parse_sets(["policy.tolerance=0.3", "policy.seed=1"])
    named = batch.variants(sets, grid)
    assert [n for n, _ in named] == ["tolerance=0,hours_per_fte=1400", "tolerance=0,hours_per_fte=1600",
                                     "tolerance=0.02,hours_per_fte=1400", "tolerance=0.02,hours_per_fte=1600"]
    assert named[2][1] == {"policy.tolerance": "0.02", "policy.seed": "1", "model.hours_per_fte": "1400"}
    assert batch.variants(sets, {}) == [("", sets)]

    sc = load_scenario(DEMO)
    varied = apply_settings(sc, {"policy.capacity": "hard", "model.case_types.fraud.weight_hours": "55",
                                 "model.hours_per_fte": "1400", "policy.tolerance": "1e-3"})
    assert varied.policy.tolerance == 0.001
    assert varied.policy.capacity == "hard" and varied.model.hours_per_fte == 1400
    assert {ct.id: ct.weight_hours for ct in varied.model.case_types}["fraud"] == 55
    assert sc.policy.capacity == "soft"  # the loaded scenario is not changed
    for bad in ({"policy.tolerance": "-1"}, {"policy.colour": "red"}, {"model.case_types.nope.weight_hours": "1"},
                {"model.name": "x"}, {"policy.seed": "yes"}):
        with pytest.raises(InputError):
            apply_settings(sc, bad)
    with pytest.raises(InputError):
        batch.parse_grid(["policy.tolerance"])

    out = tmp_path / "out"
    done = cli(DEMO, "--out", out, "-q", "--set", "policy.tolerance=0.3", "--set", "policy.max_probability=0.9",
               "--grid", "policy.tolerance=0,0.02", "--grid", "policy.seed=1,oops")
    assert done.exit_code == 2, done.output
    rows = table(out)
    assert list(rows["variant"]) == ["tolerance=0,seed=1", "tolerance=0,seed=oops",
                                     "tolerance=0.02,seed=1", "tolerance=0.02,seed=oops"]
    assert list(rows["status"]) == ["done", "invalid", "done", "invalid"]
    assert "policy.seed" in rows["error"][1]
    for folder, tolerance in (("demo-office__tolerance=0,seed=1", 0), ("demo-office__tolerance=0.02,seed=1", 0.02)):
        policy = json.loads((out / folder / "summary.json").read_text())["policy"]
        assert policy == {"tolerance": tolerance, "max_probability": 0.9, "seed": 1, "capacity": "soft",
                          "moves": {"max": None, "max_hours": None, "price": 0.0}}


def test_a_rerun_skips_what_is_up_to_date(tmp_path):
    out = tmp_path / "out"
    args = (DEMO, GROUPS, "--out", out, "-q", "--set", "policy.seed=1", "--jobs", 1)
    assert cli(*args).exit_code == 0
    first = table(out)
    stamps = {p: p.stat() for p in out.glob("*/*")}
    assert len(stamps) == 2 * len(OUTPUT_FILES) + 1  # groups-and-conflicts holds cases: moves.csv

    assert cli(*args).exit_code == 0
    again = table(out)
    assert list(again["reused"]) == [True, True]
    pd.testing.assert_frame_equal(again.drop(columns="reused"), first.drop(columns="reused"))
    assert {p: (s.st_mtime_ns, s.st_ino) for p, s in stamps.items()} == \
           {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in stamps}

    # other settings are another result: redone
    assert cli(DEMO, "--out", out, "-q", "--set", "policy.seed=2").exit_code == 0
    assert list(table(out)["reused"]) == [False]
    assert json.loads((out / "demo-office" / "summary.json").read_text())["seed"] == 2
    # --force redoes even what is up to date
    stamps = {p: p.stat().st_ino for p in (out / "groups-and-conflicts").iterdir()}
    assert cli(GROUPS, "--out", out, "-q", "--set", "policy.seed=1", "--force").exit_code == 0
    assert list(table(out)["reused"]) == [False]
    assert all(p.stat().st_ino != ino for p, ino in stamps.items())
    assert not leftovers(out)


def test_parallel_rows_equal_serial_rows(tmp_path):
    common = (DEMO, GROUPS, infeasible(tmp_path), "-q", "--set", "policy.seed=1", "--grid", "policy.tolerance=0,0.05")
    assert cli(*common, "--out", tmp_path / "one", "--jobs", 1).exit_code == 1
    assert cli(*common, "--out", tmp_path / "two", "--jobs", 2).exit_code == 1
    timing = [c for c in batch.COLUMNS if c.startswith("seconds_")]
    one, two = table(tmp_path / "one").drop(columns=timing), table(tmp_path / "two").drop(columns=timing)
    assert len(one) == 6
    pd.testing.assert_frame_equal(one, two)
    for folder in one["output"][one["status"] == "done"]:
        a = pd.read_csv(tmp_path / "one" / folder / "assignments.csv")
        pd.testing.assert_frame_equal(a, pd.read_csv(tmp_path / "two" / folder / "assignments.csv"))


def test_a_failure_while_writing_leaves_no_half_written_folder(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert cli(GROUPS, "--out", out, "-q", "--set", "policy.seed=1").exit_code == 0
    before = (out / "groups-and-conflicts" / "assignments.csv").read_bytes()
    real = batch.write_files

    def first_file_then_fail(result, out_dir, formats=("csv",)):
        from balancer.io import write_table
        write_table(result.plan.assignments, out_dir / "assignments.csv")
        raise OSError("disk full")

    monkeypatch.setattr(batch, "write_files", first_file_then_fail)
    done = cli(DEMO, GROUPS, "--out", out, "-q", "--set", "policy.seed=2", "--jobs", 1)
    assert done.exit_code == 3, done.output  # failed rows exit as a failed run does
    rows = table(out)
    assert list(rows["status"]) == ["failed", "failed"]
    assert all("disk full" in e for e in rows["error"])
    assert not (out / "demo-office").exists() and not leftovers(out)
    # the previous complete result stays, whole
    assert (out / "groups-and-conflicts" / "assignments.csv").read_bytes() == before
    assert {p.name for p in (out / "groups-and-conflicts").iterdir()} == OUTPUT_FILES | {"moves.csv"}

    monkeypatch.setattr(batch, "write_files", real)
    assert cli(DEMO, GROUPS, "--out", out, "-q", "--set", "policy.seed=2").exit_code == 0
    assert list(table(out)["status"]) == ["done", "done"]


def test_duplicate_scenario_names_do_not_share_a_folder(tmp_path):
    a = small(tmp_path / "x", "same")
    b = small(tmp_path / "y", "same")
    out = tmp_path / "out"
    assert cli(a, b, "--out", out, "-q", "--jobs", 1).exit_code == 2
    rows = table(out)
    assert list(rows["status"]) == ["done", "invalid"] and "already used" in rows["error"][1]


def test_a_dask_cluster_gives_the_rows_local_workers_give(tmp_path):
    """The same batch on a real dask.distributed LocalCluster (two worker processes)."""
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    args = [str(ROOT / "scenarios" / "demo-office.yaml"), str(ROOT / "scenarios" / "groups-and-conflicts.yaml"),
            "--grid", "policy.tolerance=0,0.05", "--set", "policy.seed=3", "-q"]
    assert cli(*args, "--out", str(tmp_path / "local"), "--jobs", "1").exit_code == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        done = cli(*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address)
    assert done.exit_code == 0, done.output
    keep = ["scenario", "variant", "status", "seed", "max_utilisation", "inputs_sha256"]
    pd.testing.assert_frame_equal(table(tmp_path / "dask")[keep], table(tmp_path / "local")[keep])
    for folder in ("demo-office__tolerance=0", "groups-and-conflicts__tolerance=0.05"):
        assert ((tmp_path / "dask" / folder / "assignments.csv").read_bytes()
                == (tmp_path / "local" / folder / "assignments.csv").read_bytes())


def test_an_unreachable_scheduler_is_an_input_error(tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    monkeypatch.setattr(batch, "SCHEDULER_TIMEOUT", 2)
    done = cli(str(ROOT / "scenarios" / "demo-office.yaml"), "--out", str(tmp_path / "o"), "-q",
               "--scheduler", "tcp://127.0.0.1:9")
    assert done.exit_code == 2 and "Dask scheduler" in done.output


def test_named_variants_from_the_file_and_their_precedence(tmp_path):
    """File < its named variant's overrides (in order) < --set < --grid."""
    path = write(tmp_path / "named.yaml", SMALL.format(name="named", kind="theft") + """
overrides:
  calm: {policy.tolerance: 0.0, policy.max_probability: 0.9}
  strict: {policy.max_probability: 0.6}
  heavy: {model.hours_per_fte: 1200}
scenarios:
  calm-strict: [calm, strict]
  heavy-only: [heavy]
""")
    assert load_scenario(path).variants == {"calm-strict": ["calm", "strict"], "heavy-only": ["heavy"]}
    out = tmp_path / "out"
    done = cli(path, "--out", out, "-q", "--variants", "all", "--set", "policy.tolerance=0.01",
               "--grid", "policy.seed=1,2")
    assert done.exit_code == 0, done.output
    rows = table(out)
    assert list(rows["variant"]) == ["calm-strict,seed=1", "calm-strict,seed=2", "heavy-only,seed=1", "heavy-only,seed=2"]
    summary = json.loads((out / "named__calm-strict,seed=2" / "summary.json").read_text())
    # strict (listed later) beats calm on max_probability; --set beats calm on tolerance; grid sets the seed
    assert summary["policy"] == {**summary["policy"], "max_probability": 0.6, "tolerance": 0.01, "seed": 2}
    assert cli(path, "--out", tmp_path / "one", "-q", "--variants", "heavy").exit_code == 0
    assert table(tmp_path / "one")["variant"].tolist() == ["heavy"]
    missing = cli(path, "--out", tmp_path / "none", "-q", "--variants", "nosuch")
    assert missing.exit_code == 2 and "nosuch" in table(tmp_path / "none")["error"].iloc[0]


def test_staffing_batches_run_the_staffing_model(tmp_path):
    out = tmp_path / "out"
    done = cli(ROOT / "scenarios", "--out", out, "-q", "--staffing", "--grid", "model.hours_per_fte=1227,1000")
    assert done.exit_code == 0, done.output
    every = table(out)
    assert (every["status"] == "done").all()  # every shipped scenario with a caseload, both grid values
    assert {"staffing-wisconsin", "staffing-measured"} <= set(every["scenario"])
    rows = every[every["scenario"] == "staffing-wisconsin"].reset_index(drop=True)
    assert len(rows) == 2
    # fewer hours per post: more posts needed, by the formula and by the optimiser
    assert rows["formula_need_fte"].iloc[1] > rows["formula_need_fte"].iloc[0]
    assert rows["hires"].iloc[1] >= rows["hires"].iloc[0]
    assert (out / rows["output"].iloc[0] / "staffing.csv").exists()
    parquet = pd.read_parquet(out / "batch.parquet")
    assert list(parquet["hires"]) == list(every["hires"].astype(float))
    assert list(parquet["scenario"]) == list(every["scenario"])


def test_a_killed_batch_leaves_only_whole_variants_and_resumes(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "balancer", "batch", str(ROOT / "scenarios" / "regional" / "regional.yaml"),
            "--out", str(out), "-q", "--jobs", "1", "--set", "policy.seed=1",
            "--grid", "policy.tolerance=" + ",".join(f"0.{i:03d}" for i in range(40))]
    run = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and len([p for p in out.glob("regional__*") if p.is_dir()]) < 3:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    finished = [p for p in out.glob("regional__*") if p.is_dir()]
    assert 3 <= len(finished) < 40, "the batch was not stopped in the middle"
    for folder in finished:  # every visible variant folder is whole
        assert {"assignments.csv", "staff.csv", "summary.json", "variant.json"} <= {f.name for f in folder.iterdir()}
    again = subprocess.run(args, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    rows = table(out)
    assert len(rows) == 40 and (rows["status"] == "done").all()
    assert rows["reused"].astype(str).str.lower().eq("true").sum() == len(finished)
    assert not leftovers(out)
