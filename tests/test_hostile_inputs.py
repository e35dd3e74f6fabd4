"""Hostile inputs: each is answered with its exit code and a message that names the file, the line
or cell and the field — never a traceback, a hang or a silent misreading. The files are made in
tmp_path by each test (alias bombs, FIFOs, links to /dev/zero, workbooks with formulas)."""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from balancer.cli import app
from balancer.scenario import load_scenario
from balancer.scenario.bounds import MAX_ERRORS, MAX_ID_CHARS, MAX_TABLE_BYTES
from tests.conftest import write

HEAD = """\
name: office
period: {start: 2025-01-01, end: 2025-03-31}
grades: [junior, senior]
case_types:
  - {id: theft, weight_hours: 6}
  - {id: fraud, weight_hours: 40, min_grade: senior}
"""
STAFF = "staff:\n  - {id: P1, fte: 1.0, grade: senior}\n  - {id: P2, capacity_hours: 300, grade: junior}\n"
CASES = "cases:\n  - {id: C1, type: theft}\n  - {id: C2, type: fraud}\n"


def office(staff: str = STAFF, cases: str = CASES, head: str = HEAD, tail: str = "") -> str:
    return head + staff + cases + tail


def invoke(*args) -> tuple[int, str]:
    done = CliRunner().invoke(app, [str(a) for a in args])
    return done.exit_code, done.output


def xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def alias_bomb(levels: int = 9) -> str:
    """A few hundred bytes that expand to 9**9 strings when every alias is copied."""
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for k in range(1, levels):
        text += f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]\n"
    return text + f"name: bomb\ndescription: *a{levels - 1}\n"


# ---------------------------------------------------------------------------------------------
# One table: the files of a hostile scenario → exit code and what the message must say
# ---------------------------------------------------------------------------------------------


@dataclass
class Hostile:
    name: str
    make: Callable[[Path], None]
    """Writes s.yaml (and what it references) into the folder."""
    code: int
    says: tuple[str, ...] = ()
    command: str = "run"
    files: dict[str, str] = field(default_factory=dict)


def scenario(text: str, **tables) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        write(folder / "s.yaml", text)
        for name, content in tables.items():
            write(folder / name.replace("_", "."), content)
    return make


def with_file(text: str, name: str, make_file: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        write(folder / "s.yaml", text)
        make_file(folder / name)
    return make


def away_all_period(folder: Path) -> None:
    gone = "[{from: 2024-12-01, to: 2025-06-30}]"
    write(folder / "s.yaml", office(staff=f"staff:\n  - {{id: P1, fte: 1, grade: senior, unavailable: {gone}}}\n"
                                          f"  - {{id: P2, fte: 1, grade: junior, unavailable: {gone}}}\n"))


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as f:
            f.truncate(size)  # sparse: no disk space used
    return make


HUGE_INT = "1" + "0" * 400
CASES_CSV = "cases: cases.csv\n"
LINKED_CSV = "cases: cases.csv  # <-\n"  # the file cannot be read: the scenario's line is named
XLSX_CASES = [["id", "type", "weight_hours"], ["C1", "theft", 2], ["C2", "theft", None]]

HOSTILE = [
    # nobody has time: infeasible, with the numbers
    Hostile("every fte 0", scenario(office(staff="staff:\n  - {id: P1, fte: 0, grade: senior}\n"
                                                 "  - {id: P2, fte: 0, grade: junior}\n")),
            1, ("no prosecutor has any time", "0 hours", "P1")),
    Hostile("every capacity_hours 0", scenario(office(staff="staff:\n  - {id: P1, capacity_hours: 0, grade: senior}\n")),
            1, ("no prosecutor has any time",)),
    Hostile("everyone away the whole period", away_all_period, 1, ("no prosecutor has any time",)),
    Hostile("every fte 0 (validate)", scenario(office(staff="staff:\n  - {id: P1, fte: 0, grade: senior}\n")),
            1, ("no prosecutor has any time",), command="validate"),
    # numbers out of range, not numbers at all, or too large for a float
    Hostile("400-digit case weight", scenario(office(cases=f"cases:\n  - {{id: C1, type: theft, weight_hours: {HUGE_INT}}}  # <-\n")),
            2, ("weight_hours", "out of range")),
    Hostile("400-digit type weight", scenario(office(head=HEAD.replace("weight_hours: 6}", f"weight_hours: {HUGE_INT}}}  # <-"))),
            2, ("weight_hours",)),
    Hostile("NaN case weight", scenario(office(cases="cases:\n  - {id: C1, type: theft, weight_hours: .nan}  # <-\n")),
            2, ("weight_hours", "not a number")),
    Hostile("NaN type weight", scenario(office(head=HEAD.replace("weight_hours: 6}", "weight_hours: .nan}  # <-"))),
            2, ("weight_hours", "finite")),
    Hostile("NaN current load", scenario(office(staff="staff:\n  - {id: P1, fte: 1, current_load_hours: .nan}  # <-\n")),
            2, ("current_load_hours", "not a number")),
    Hostile("NaN capacity", scenario(office(staff="staff:\n  - {id: P1, capacity_hours: .nan}  # <-\n")),
            2, ("capacity_hours", "not a number")),
    Hostile("inf capacity", scenario(office(staff="staff:\n  - {id: P1, capacity_hours: .inf}  # <-\n")),
            2, ("capacity_hours", "out of range")),
    Hostile("NaN in a CSV", scenario(office(cases=CASES_CSV), cases_csv="id,type,weight_hours\nC1,theft,2\nC2,theft,nan\n"),
            2, ("cases.csv:3", "weight_hours", "not a number")),
    Hostile("inf in a CSV", scenario(office(cases=CASES_CSV), cases_csv="id,type,weight_hours\nC1,theft,inf\n"),
            2, ("cases.csv:2", "weight_hours", "out of range")),
    Hostile("NaN in Parquet", with_file(office(cases="cases: cases.parquet\n"), "cases.parquet",
                                        lambda p: pq.write_table(pa.table({
                                            "id": ["C1", "C2"], "type": ["theft"] * 2,
                                            "weight_hours": pa.array([2.0, float("nan")], from_pandas=False)}), p)),
            2, ("cases.parquet:2", "weight_hours", "NaN")),
    Hostile("weight 1e308", scenario(office(cases="cases:\n  - {id: C1, type: theft, weight_hours: 1.0e+308}\n")),
            2, ("weight_hours", "out of range", "100,000")),
    Hostile("capacity 1e-300", scenario(office(staff="staff:\n  - {id: P1, capacity_hours: 1.0e-300}\n")),
            2, ("capacity_hours", "out of range", "0.001")),
    Hostile("load 1e308", scenario(office(staff="staff:\n  - {id: P1, fte: 1, current_load_hours: 1.0e+308}\n")),
            2, ("current_load_hours", "out of range")),
    Hostile("tolerance 1e308", scenario(office(tail="policy: {tolerance: 1.0e+308}\n")),
            2, ("policy.tolerance", "10")),
    Hostile("hours_per_fte 1e-300", scenario(office(head=HEAD + "hours_per_fte: 1.0e-300\n")),
            2, ("hours_per_fte",)),
    Hostile("seed beyond 64 bits", scenario(office(tail=f"policy: {{seed: {HUGE_INT}}}\n")),
            2, ("policy.seed",)),
    # files that never end, never answer, or are too large
    Hostile("YAML alias bomb", scenario(alias_bomb()), 2, ("s.yaml", "aliases", "100,000")),
    Hostile("cases a link to /dev/zero", with_file(office(cases=LINKED_CSV), "cases.csv",
                                                   lambda p: p.symlink_to("/dev/zero")),
            2, ("cases", "not a regular file")),
    Hostile("cases a FIFO", with_file(office(cases=LINKED_CSV), "cases.csv", lambda p: os.mkfifo(p)),
            2, ("cases", "not a regular file")),
    Hostile("cases larger than the limit", with_file(office(cases=LINKED_CSV), "cases.csv", sparse(MAX_TABLE_BYTES + 1)),
            2, ("cases", "bytes", "README")),
    Hostile("cases a folder", with_file(office(cases=LINKED_CSV), "cases.csv", lambda p: p.mkdir()),
            2, ("cases", "a folder")),
    # workbooks: the table's sheet, formulas, dates
    Hostile("xlsx with the cases on a second sheet", with_file(
        office(cases="cases: office.xlsx\n"), "office.xlsx",
        lambda p: xlsx(p, {"Notes": [["read me"]], "Cases": XLSX_CASES})),
        2, ("office.xlsx", "2 sheets", "Notes, Cases", "sheet:")),
    Hostile("xlsx with a sheet that does not exist", with_file(
        office(cases="cases: {path: office.xlsx, sheet: Cses}\n"), "office.xlsx",
        lambda p: xlsx(p, {"Notes": [["read me"]], "Cases": XLSX_CASES})),
        2, ("no sheet 'Cses'", "did you mean 'Cases'")),
    Hostile("xlsx formula cell", with_file(
        office(cases="cases: {path: office.xlsx, sheet: Cases}\n"), "office.xlsx",
        lambda p: xlsx(p, {"Cases": [*XLSX_CASES, ["C3", "theft", "=C2*2"]]})),
        2, ("office.xlsx:4", "sheet 'Cases', cell C4", "formula", "weight_hours")),
    Hostile("xlsx date as an id", with_file(
        office(cases="cases: office.xlsx\n"), "office.xlsx",
        lambda p: xlsx(p, {"Cases": [*XLSX_CASES, [datetime.datetime(2025, 1, 1), "theft", 2]]})),
        2, ("office.xlsx:4", "cell A4", "date", "field 'id'")),
    Hostile("sheet on a CSV", scenario(office(cases="cases: {path: cases.csv, sheet: Cases}\n"),
                                       cases_csv="id,type\nC1,theft\n"),
            2, ("s.yaml", "cases.sheet", ".xlsx")),
    Hostile("unknown table option", scenario(office(cases="cases: {path: cases.csv, separator: ';'}  # <-\n"),
                                             cases_csv="id,type\nC1,theft\n"),
            2, ("separator", "unknown field")),
    # CSV shapes
    Hostile("ragged CSV row", scenario(office(cases=CASES_CSV), cases_csv="id,type\nC1,theft\ntheft,C2,6\n"),
            2, ("cases.csv:3", "line 3 has 3 cells where the header has 2")),
    Hostile("ragged first CSV row", scenario(office(cases=CASES_CSV), cases_csv="id,type\nC1,theft,6\nC2,theft\n"),
            2, ("cases.csv:2", "line 2 has 3 cells where the header has 2")),
    Hostile("short CSV row", scenario(office(cases=CASES_CSV), cases_csv="id,type,excluded\nC1,theft,\nC2,theft\n"),
            2, ("cases.csv:3", "line 3 has 2 cell(s) where the header has 3")),
    Hostile("short quoted CSV row", scenario(office(cases=CASES_CSV),
                                             cases_csv='id,type,excluded\n"C1",theft,\n"C2",theft\n'),
            2, ("cases.csv:3", "line 3 has 2 cell(s) where the header has 3")),
    Hostile("';'-separated CSV read as ','", scenario(office(cases="cases: {path: cases.csv, delimiter: ','}\n"),
                                                     cases_csv="id;type;weight_hours\nC1;theft;1,5\n"),
            2, ("cases.csv:2", "delimiter: ';'")),
    Hostile("thousands point in a decimal-comma CSV", scenario(office(cases=CASES_CSV),
                                                               cases_csv="id;type;weight_hours\nC1;theft;1.500\n"),
            2, ("cases.csv:2", "weight_hours", "decimal")),
    Hostile("duplicate column", scenario(office(cases=CASES_CSV), cases_csv="id,type,type\nC1,theft,theft\n"),
            2, ("cases.csv:1", "appears twice")),
    # overlong texts
    Hostile("1,000,000-character case id", scenario(office(cases="cases:\n  - {id: " + "x" * 10**6 + ", type: theft}  # <-\n")),
            2, ("field 'id'", "1,000,000 characters", f"at most {MAX_ID_CHARS}")),
    Hostile("1,000,000-character id in a CSV", scenario(office(cases=CASES_CSV),
                                                        cases_csv="id,type\n" + "y" * 10**6 + ",theft\n"),
            2, ("cases.csv:2", "field 'id'")),
    Hostile("1,000,000-character name", scenario(office(head=HEAD.replace("name: office", "name: " + "n" * 10**6 + "  # <-"))),
            2, ("field 'name'", "200 characters")),
    # YAML itself refuses a key longer than 1024 characters
    Hostile("1,000,000-character key", scenario(office(cases="cases:\n  - {id: C1, type: theft, "
                                                             + "z" * 10**6 + ": 1}  # <-\n")),
            2, ("not valid YAML",)),
]


@pytest.mark.parametrize("bad", HOSTILE, ids=[b.name for b in HOSTILE])
def test_a_hostile_input_gets_its_exit_code_and_a_message_naming_where(tmp_path, bad):
    bad.make(tmp_path)
    text = (tmp_path / "s.yaml").read_text(encoding="utf-8")
    marked = [n for n, line in enumerate(text.splitlines(), start=1) if line.endswith("# <-")]
    args = [bad.command, tmp_path / "s.yaml"] + (["--out", tmp_path / "out", "-q"] if bad.command == "run" else [])
    t0 = time.perf_counter()
    code, output = invoke(*args)
    assert time.perf_counter() - t0 < 30, "answered slowly"
    assert code == bad.code, output
    assert "Traceback" not in output and "internal error" not in output, output
    for part in bad.says + tuple(f"s.yaml:{n}:" for n in marked):
        assert part in output, output
    assert len(output) < 10_000, "a message quotes only a short prefix of a bad value"


# ---------------------------------------------------------------------------------------------
# What is read right now
# ---------------------------------------------------------------------------------------------


def test_a_semicolon_csv_with_decimal_commas_is_read_as_excel_writes_it(tmp_path):
    write(tmp_path / "cases.csv", "id;type;weight_hours\nC1;theft;1,5\nC2;fraud;\n")
    write(tmp_path / "staff.csv", "id;fte;grade;current_load_hours\nP1;1;senior;12,25\nP2;0,5;junior;\n")
    sc = load_scenario(write(tmp_path / "s.yaml", office(staff="staff: staff.csv\n", cases=CASES_CSV)))
    assert sc.cases["weight_hours"].iloc[0] == 1.5 and pd.isna(sc.cases["weight_hours"].iloc[1])
    assert sc.staff["fte"].tolist() == [1.0, 0.5] and sc.staff["current_load_hours"].tolist() == [12.25, 0.0]
    # the same file, its delimiter and decimal mark named on the table reference
    named = load_scenario(write(tmp_path / "n.yaml", office(
        staff="staff: {path: staff.csv, delimiter: ';', decimal: ','}\n", cases=CASES_CSV)))
    assert named.staff["fte"].tolist() == [1.0, 0.5]


def test_a_named_sheet_is_read_and_the_others_ignored(tmp_path):
    xlsx(tmp_path / "office.xlsx", {"Notes": [["read me"], ["=1+1"]],
                                    "Cases": [["id", "type", "weight_hours"], ["C1", "theft", 2.5], [7, "fraud", None]]})
    sc = load_scenario(write(tmp_path / "s.yaml", office(cases="cases: {path: office.xlsx, sheet: Cases}\n")))
    assert sc.cases["id"].tolist() == ["C1", "7"]  # a number typed as an id is its text, not 7.0
    assert sc.cases["weight_hours"].iloc[0] == 2.5
    assert sc.inputs["office.xlsx"]


def test_a_date_column_of_new_cases_may_hold_dates(tmp_path):
    from balancer.scenario import load_new_cases

    sc = load_scenario(write(tmp_path / "s.yaml", office()))
    xlsx(tmp_path / "new.xlsx", {"New": [["id", "type", "date"], ["N1", "theft", datetime.datetime(2025, 2, 3)]]})
    cases, _, _ = load_new_cases(tmp_path / "new.xlsx", sc)
    assert cases["date"].tolist() == [datetime.date(2025, 2, 3)]


def test_an_alias_bomb_is_refused_at_once_and_ordinary_aliases_still_work(tmp_path):
    t0 = time.perf_counter()
    code, output = invoke("validate", write(tmp_path / "bomb.yaml", alias_bomb()))
    assert code == 2 and "aliases" in output
    assert time.perf_counter() - t0 < 10
    anchored = HEAD + ("staff:\n"
                       "  - {id: P1, fte: 1, grade: senior, unavailable: &away [{from: 2025-02-01, to: 2025-02-14}]}\n"
                       "  - {id: P2, fte: 1, grade: junior, unavailable: *away}\n") + CASES
    sc = load_scenario(write(tmp_path / "ok.yaml", anchored))
    assert sc.staff["id"].tolist() == ["P1", "P2"] and sc.staff["unavailable"].map(len).tolist() == [1, 1]


# ---------------------------------------------------------------------------------------------
# validate: everything at once, and never "valid" for what run calls infeasible
# ---------------------------------------------------------------------------------------------


def test_validate_reports_every_error_it_finds_in_one_pass(tmp_path):
    text = office(staff="staff:\n  - {id: P1, fte: -1, grade: senior}\n  - {id: P2, capacity_hours: .nan, grade: chief}\n",
                  cases="cases:\n  - {id: C1, type: thief}\n  - {id: C2, type: theft, weight_hours: 0, colour: red}\n",
                  tail="policy: {tolerance: 99, max_probability: 0}\n")
    code, output = invoke("validate", write(tmp_path / "s.yaml", text))
    assert code == 2
    for name in ("policy.tolerance", "policy.max_probability", "fte", "capacity_hours", "grade", "colour",
                 "type", "weight_hours"):
        assert f"field '{name}'" in output, (name, output)
    assert "8 problems" in output
    # run stops at the first
    code, output = invoke("run", tmp_path / "s.yaml", "--out", tmp_path / "out", "-q")
    assert code == 2 and "problems" not in output


def test_validate_stops_at_its_limit_and_says_there_may_be_more(tmp_path):
    columns = ",".join(f"extra{i}" for i in range(MAX_ERRORS + 5))
    write(tmp_path / "cases.csv", f"id,type,{columns}\nC1,theft{',' * (MAX_ERRORS + 5)}\n")
    code, output = invoke("validate", write(tmp_path / "s.yaml", office(cases=CASES_CSV)))
    assert code == 2
    assert f"{MAX_ERRORS} or more problems" in output and output.count("unknown column") == MAX_ERRORS


def test_validate_runs_the_checks_run_makes_before_solving(tmp_path):
    nobody = office(staff="staff:\n  - {id: P1, fte: 1, grade: junior}\n")  # fraud needs a senior
    path = write(tmp_path / "s.yaml", nobody)
    code, output = invoke("validate", path)
    assert code == 1 and "no eligible prosecutor" in output and "valid —" not in output
    code, _ = invoke("run", path, "--out", tmp_path / "out", "-q")
    assert code == 1
    code, output = invoke("validate", write(tmp_path / "ok.yaml", office()))
    assert code == 0 and "valid —" in output


# ---------------------------------------------------------------------------------------------
# batch: nothing skipped in silence
# ---------------------------------------------------------------------------------------------


def test_batch_lists_every_file_it_skipped_and_why(tmp_path):
    folder = tmp_path / "in"
    write(folder / "good.yaml", office())
    write(folder / "broken.yaml", office() + "policy: {tolerance: [\n")
    write(folder / "model.yaml", yaml.safe_dump({"name": "m", "case_types": [{"id": "t", "weight_hours": 1}]}))
    done = CliRunner().invoke(app, ["batch", str(folder), "--out", str(tmp_path / "out"), "-q"])
    assert done.exit_code == 0, done.output
    assert "broken.yaml: cannot be read" in done.stderr and "not valid YAML" in done.stderr
    assert "model.yaml: no `cases:`" in done.stderr
    assert "good.yaml" not in done.stderr
