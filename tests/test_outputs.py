"""Outputs: every location checked before anything is drawn, one run's folder whole or absent, no
formula a spreadsheet would run, and nothing a terminal would obey."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import balancer
from balancer.cli import app
from balancer.cli.app import console, printable
from balancer.io import OutputTaken, check_outputs, write_outputs, write_table
from balancer.register import Register
from balancer.tables import output_tables
from tests.conftest import ROOT, write
from tests.test_kill import leftovers, whole_draw_problems

DEMO = ROOT / "scenarios" / "demo-office.yaml"
REBALANCE = ROOT / "scenarios" / "rebalance.yaml"
MODEL = (ROOT / "models" / "demo.yaml").as_posix()
RISKY = ["=1+2", "+A1", "-B1", "@SUM(A1)", "\tC", "\rD", "'E"]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def draws(register: Path) -> int:
    if not register.exists():
        return 0
    with Register(register) as reg:
        return len(reg.history())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def office(tmp_path: Path, cases: str, staff_ids=("P01", "P02"), policy="{}") -> Path:
    staff = "\n".join(f"  - {{id: {json.dumps(s)}, fte: 1.0, specialisations: [general], grade: senior}}"
                      for s in staff_ids)
    return write(tmp_path / "office.yaml", f"name: office\nmodel: {MODEL}\nstaff:\n{staff}\n"
                                           f"cases:\n{cases}\npolicy: {policy}\n")


def test_unwritable_outputs_are_refused_before_anything_is_drawn(tmp_path, own_register):
    a_file = write(tmp_path / "a-file", "not a folder")
    (tmp_path / "old" / "staff.csv").mkdir(parents=True)  # a folder where a table goes
    (tmp_path / "p.csv").mkdir()
    new = tmp_path / "new"
    for args, named in (
        (["--out", a_file], a_file),
        (["--out", a_file / "sub"], a_file / "sub"),
        (["--out", tmp_path / "old"], tmp_path / "old"),
        (["--out", new, "--probabilities", a_file / "p.csv"], a_file / "p.csv"),
        (["--out", new, "--probabilities", tmp_path / "p.csv"], tmp_path / "p.csv"),
        (["--out", new, "--probabilities", "/proc/balancer-p.csv"], "/proc/balancer-p.csv"),
        (["--out", new, "--probabilities", new / "summary.csv"], new / "summary.csv"),
    ):
        done = cli("run", DEMO, *args, "-q")
        assert done.exit_code == 2, done.output
        assert str(named) in done.output and "Traceback" not in done.output
    assert draws(own_register) == 0 and not new.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_folder_of_an_earlier_draw_is_never_mixed_with_a_new_one(tmp_path, own_register):
    out = tmp_path / "out"
    assert cli("run", DEMO, "--out", out, "-q").exit_code == 0
    before = snapshot(out)
    again = cli("run", DEMO, "--out", out, "-q", "--reason", "a second draw")
    assert again.exit_code == 2 and str(out) in again.output and "already holds" in again.output
    infeasible = office(tmp_path, "  - {id: X1, type: corruption}")  # nobody holds corruption
    assert cli("run", infeasible, "--out", out, "-q").exit_code == 2
    assert snapshot(out) == before and draws(own_register) == 1
    (tmp_path / "empty").mkdir()  # an empty folder is as good as a new one
    assert cli("run", DEMO, "--out", tmp_path / "empty", "-q", "--reason", "a second draw").exit_code == 0
    assert not whole_draw_problems(tmp_path / "empty", own_register)
    assert not leftovers(tmp_path, "out") and not leftovers(tmp_path, "empty")


def test_an_infeasible_run_writes_its_diagnosis_whole(tmp_path, own_register):
    out = tmp_path / "out"
    done = cli("run", office(tmp_path, "  - {id: X1, type: corruption}"), "--out", out, "-q")
    assert done.exit_code == 1
    assert json.loads((out / "summary.json").read_text())["status"] == "infeasible"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json"] and draws(own_register) == 0


def test_a_folder_filled_meanwhile_is_not_written(tmp_path):
    """What the rename guards: the folder was free when the run began, another run filled it."""
    out = tmp_path / "out"
    sc = balancer.load_scenario(DEMO)
    first, second = balancer.solve(sc), balancer.solve(sc)
    check_outputs(out)
    write_outputs(first, out)
    before = snapshot(out)
    with pytest.raises(OutputTaken, match="another run"):
        write_outputs(second, out)
    assert snapshot(out) == before and not leftovers(tmp_path, "out")


def test_two_runs_into_one_folder_cannot_both_succeed(tmp_path, own_register):
    out = tmp_path / "out"
    runs = [subprocess.Popen([sys.executable, "-m", "balancer", "run", str(DEMO), "--out", str(out), "-q",
                              "--reason", "two at once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    codes = sorted(p.wait() for p in runs)
    assert codes[0] == 0 and codes[1] in (2, 3), [p.stderr.read() for p in runs]
    assert not whole_draw_problems(out, own_register) and not leftovers(tmp_path, "out")


def test_a_rebalance_that_draws_nothing_writes_and_reports(tmp_path, own_register):
    """Every case held, no move allowed: nothing is drawn, yet the run, its tables, its probability
    table and the register commands all work (no randomness metrics to report)."""
    cases = "\n".join(f"  - {{id: C{i}, type: theft, assigned_to: P0{1 + i % 2}}}" for i in range(6))
    sc = office(tmp_path, cases, policy="{moves: {max: 0}}")
    out = tmp_path / "out"
    done = cli("run", sc, "--out", out, "--format", "xlsx", "--probabilities", out / "probabilities.csv")
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rebalance"]["moved_cases"] == 0 and summary["metrics"]["n_drawn_cases"] == 0
    assert not whole_draw_problems(out, own_register, ("csv", "xlsx"))
    assert (out / "moves.csv").is_file() and (out / "probabilities.csv").is_file()
    assert cli("history").exit_code == 0
    assert cli("verify", summary["register"]["id"], "--inputs", sc).exit_code == 0


def test_formula_text_is_inert_and_numbers_stay_numbers(tmp_path):
    plain = ["plain", "a CR\rinside"]  # not a formula; the CR must not end the row
    n = len(RISKY) + len(plain)
    df = pd.DataFrame({"id": [*RISKY, *plain], "hours": [-1.5] * n, "count": [-2] * n})
    write_table(df, tmp_path / "t.csv")
    write_table(df, tmp_path / "t.xlsx")
    text = pd.read_csv(tmp_path / "t.csv", dtype={"id": str}, keep_default_na=False)
    assert len(text) == n and text["id"].tolist()[len(RISKY):] == plain
    assert [v[:1] for v in text["id"][:len(RISKY)]] == ["'"] * len(RISKY)
    assert [v[1:] for v in text["id"][:len(RISKY)]] == RISKY  # one ' dropped gives the text back
    assert (text["hours"] == -1.5).all() and (text["count"] == -2).all()
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    cells = list(sheet.iter_rows(min_row=2))
    assert all(row[0].data_type == "s" for row in cells)
    as_read = [v.replace("\r", "\n") for v in [*RISKY, *plain]]  # XML reads a CR back as a line feed
    assert [row[0].value for row in cells] == as_read  # a text cell keeps its text, = and all
    assert all(row[1].value == -1.5 and row[2].value == -2 for row in cells)


def test_a_run_with_formula_like_ids_writes_no_formula(tmp_path):
    ids = [s for s in RISKY if s[0] in "=+-@"]  # what a scenario's ids may hold (tab and CR: see above)
    cases = "\n".join(f"  - {{id: {json.dumps(c)}, type: theft}}" for c in ids)
    out = tmp_path / "out"
    done = cli("run", office(tmp_path, cases, staff_ids=("=P1", "-P2")), "--out", out, "--format", "xlsx", "-q")
    assert done.exit_code == 0, done.output
    raw = (out / "assignments.csv").read_text().splitlines()[1:]
    assert all(line.startswith("'") and line.split(",")[1].startswith("'") for line in raw)
    for sheet in openpyxl.load_workbook(out / "plan.xlsx"):
        assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]


def test_terminal_output_shows_control_characters_and_markup_as_text(tmp_path, monkeypatch):
    evil = "\x1b[31mred\x1b]0;title\x07[bold]x[/bold]\u202e"
    shown = printable(evil)
    assert not any(ch in shown for ch in "\x1b\x07\u202e") and "[bold]x[/bold]" in shown
    assert printable("two\nlines\tand a tab") == "two\nlines\tand a tab"
    monkeypatch.setattr(console, "width", 400)  # whole cells, not wrapped
    sc = office(tmp_path, "  - {id: '[bold]C1', type: theft}", staff_ids=("[red]P1", "P2"))
    run = cli("run", sc, "--out", tmp_path / "out", "--seed", 1, "--operator", evil, "--reason", evil)
    history = cli("history")
    for done in (run, history):
        assert done.exit_code == 0, done.output
        assert "\x1b" not in done.output and "\\x1b" in done.output and "[bold]x[/bold]" in done.output
    assert "[red]P1" in run.output


def test_intake_writes_every_case_it_draws_whole(tmp_path, own_register):
    new = pd.DataFrame({"id": [f"W{i}" for i in range(12)], "type": ["theft"] * 12,
                        "date": ["2025-04-01"] * 6 + ["2025-04-02"] * 6})
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "out"
    done = cli("intake", REBALANCE, tmp_path / "new.csv", "--out", out, "-q")
    assert done.exit_code == 0, done.output
    sc = balancer.load_scenario(REBALANCE)
    drawn, moves = pd.read_csv(out / "assignments.csv"), pd.read_csv(out / "moves.csv")
    backlog = set(sc.cases.loc[sc.cases["assigned_to"].isna(), "id"])
    assert len(moves) > 0 and set(drawn["case_id"]) == set(new["id"]) | backlog | set(moves["case_id"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["policy"]["moves"]["max"] == 0 != sc.policy.moves.max  # the policy the days used
    assert summary["drawn_cases"] == len(drawn)
    recorded = draws(own_register)
    again = cli("intake", REBALANCE, tmp_path / "new.csv", "--out", out, "-q", "--reason", "again")
    assert again.exit_code == 2 and "already holds" in again.output and draws(own_register) == recorded
    write(tmp_path / "none.csv", "id,type,date\n")
    empty = cli("intake", REBALANCE, tmp_path / "none.csv", "--out", tmp_path / "none")
    assert empty.exit_code == 0, empty.output
    assert json.loads((tmp_path / "none" / "summary.json").read_text())["days"] == []
    assert not leftovers(tmp_path, "out") and not leftovers(tmp_path, "none")


def test_staff_figures_are_rounded_for_reading_and_the_draw_still_checks(tmp_path):
    """staff.csv (staff.parquet, the Staff sheet alike) gives hours to 0.1 and utilisation to 0.1 %;
    the assignments keep each weight as given and π exact, so the record's hash, `verify`, `explain`
    and a check that recomputes every load from the assignments and the inputs all still hold."""
    from tests.test_register_cli import run_in

    register, out = tmp_path / "register.sqlite", tmp_path / "out"
    done = run_in("run", REBALANCE, "--out", out, "--format", "parquet", "--format", "xlsx", "-q",
                  "--register", register)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    staff = pd.read_csv(out / "staff.csv", dtype={"staff_id": str})
    sc = balancer.load_scenario(REBALANCE)
    replayed = balancer.solve(sc, seed=summary["seed"])
    exact = output_tables(replayed)["staff"]
    shares = [c for c in staff.columns if "utilisation" in c]
    hours = [c for c in staff.columns if "hours" in c]
    assert {"utilisation", "utilisation_before", "capacity_hours", "load_hours", "held_hours_before"} <= {*shares, *hours}
    for columns, decimals in ((shares, 3), (hours, 1)):
        written, full = staff[columns].to_numpy(float), exact[columns].to_numpy(float)
        assert np.array_equal(written, np.round(written, decimals), equal_nan=True)
        assert np.nanmax(np.abs(written - full)) <= 0.5 * 10.0 ** -decimals + 1e-9
        assert not np.array_equal(written, full, equal_nan=True)  # there was something to round
    figures = [*shares, *hours]
    sheet = pd.read_excel(out / "plan.xlsx", sheet_name="Staff", dtype={"staff_id": str})
    for other in (pd.read_parquet(out / "staff.parquet"), sheet):
        pd.testing.assert_frame_equal(other[figures], staff[figures], check_dtype=False)

    assignments = pd.read_csv(out / "assignments.csv", dtype={"case_id": str, "staff_id": str})
    plan = replayed.plan.assignments.set_index("case_id").loc[assignments["case_id"]]
    for column in ("weight_hours", "probability"):  # as given, and exact: what the result hash is made of
        assert assignments[column].tolist() == plan[column].tolist()
    given_load = sc.staff.set_index("id")["current_load_hours"].reindex(staff["staff_id"]).to_numpy(float)
    drawn = assignments.groupby("staff_id")["weight_hours"].sum().reindex(staff["staff_id"], fill_value=0.0)
    assert np.abs(given_load + drawn.to_numpy() - staff["load_hours"].to_numpy()).max() <= 0.05 + 1e-9

    assert not whole_draw_problems(out, register, ("parquet", "xlsx"))  # the record's result hash holds
    verified = run_in("verify", summary["register"]["id"], "--inputs", REBALANCE, "--register", register)
    assert verified.returncode == 0 and "verified" in verified.stdout
    case = assignments["case_id"].iloc[0]
    explained = run_in("explain", case, "--run", out, "--inputs", REBALANCE)
    assert explained.returncode == 0 and case in explained.stdout
