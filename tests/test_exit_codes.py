"""One table of exit codes for every command: bad input 2, any other failure 3, infeasible 1."""

from __future__ import annotations

import ast

import pytest
from typer.testing import CliRunner

from balancer.cli import EXIT_CODES, app
from balancer.cli.app import worst
from balancer.errors import Outcome
from tests.conftest import ROOT, write

DEMO = ROOT / "scenarios" / "demo-office.yaml"
MODEL = ROOT / "models" / "demo.yaml"
STAFF = ROOT / "scenarios" / "measure" / "staff.csv"
UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"  # port 9: nothing listens


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_table_is_the_documented_one():
    assert {o.value: c for o, c in EXIT_CODES.items()} == {
        "done": 0, "infeasible": 1, "mismatch": 1, "invalid": 2, "failed": 3}
    assert set(EXIT_CODES) == set(Outcome)
    # several outcomes (a batch): bad input wins, then a failure, then infeasible
    assert worst([Outcome.DONE, Outcome.INFEASIBLE, Outcome.FAILED]) is Outcome.FAILED
    assert worst([Outcome.FAILED, Outcome.INVALID]) is Outcome.INVALID
    assert worst([]) is Outcome.DONE


@pytest.mark.parametrize("command", [
    ["validate"], ["run", "--out", "OUT"], ["frontier", "--out", "OUT"], ["staffing", "--out", "OUT"],
    ["commit", "--seed-file", "OUT/seed.json"], ["batch", "--out", "OUT"], ["measure", "--out", "OUT"],
    ["kpi", "--model", str(MODEL), "--staff", str(STAFF), "--period", "2026", "--out", "OUT"],
])
def test_bad_input_is_2_for_every_command(tmp_path, command):
    bad = write(tmp_path / "bad.yaml", "name: x\nstaff: [{id: A, fte: yes}]\ncases: []\n")
    args = [a.replace("OUT", str(tmp_path / "out")) for a in command]
    done = invoke(args[0], bad, *args[1:])
    assert done.exit_code == 2, done.output
    assert "invalid input" in done.output and "bad.yaml" in done.output


@pytest.mark.parametrize("command", [
    ["run", DEMO, "--out", "OUT", "-q"], ["history"], ["verify", "--chain"], ["commit", DEMO, "--seed-file", "OUT/s"],
])
def test_a_register_that_cannot_be_opened_is_3_for_every_command(tmp_path, command):
    args = [str(a).replace("OUT", str(tmp_path / "out")) for a in command]
    done = invoke(*args, "--register", UNREACHABLE)
    assert done.exit_code == 3, done.output
    assert done.output.startswith("failed: cannot open the register")
    assert not (tmp_path / "out").exists()  # nothing drawn is written unrecorded


def test_no_command_module_picks_an_exit_code_of_its_own():
    """Every exit code comes from EXIT_CODES: no command calls typer.Exit or sys.exit itself."""
    for path in (ROOT / "balancer" / "cli").glob("*.py"):
        if path.name == "app.py":
            continue
        calls = [node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Attribute) and node.attr in ("Exit", "exit", "Abort")]
        assert not calls, f"{path.name} picks an exit code itself"
