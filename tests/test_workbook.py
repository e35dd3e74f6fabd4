"""`run --format xlsx`: one workbook, plan.xlsx, read back as a spreadsheet user meets it — its
sheets, a frozen header, filters, formats on shares and hours, and not one formula."""

from __future__ import annotations

import io
import json

import openpyxl
import pandas as pd
import pytest

from balancer.workbook import write_sheets
from tests.conftest import ROOT
from tests.test_outputs import office
from tests.test_register_cli import run_in

DEMO = ROOT / "scenarios" / "demo-office.yaml"
REBALANCE = ROOT / "scenarios" / "rebalance.yaml"
SHEETS = ["Summary", "Assignments", "Staff", "Lottery", "Findings"]


def run_workbook(scenario, out):
    done = run_in("run", scenario, "--out", out, "--format", "xlsx", "-q")
    assert done.returncode == 0, done.stderr
    return openpyxl.load_workbook(out / "plan.xlsx")


def header(sheet) -> list[str]:
    return [c.value for c in sheet[1]]


def formats(sheet, column: str) -> set[str]:
    """The number formats of the column's cells that hold a value, and the column's own (what an
    empty cell, say a prosecutor without capacity's utilisation, takes when something is typed in)."""
    j = header(sheet).index(column) + 1
    cells = {row[0].number_format for row in sheet.iter_rows(min_row=2, min_col=j, max_col=j)
             if row[0].value is not None}
    return cells | {column_dimension(sheet, j).number_format}


def column_dimension(sheet, j: int):
    """The column settings (width, format) that cover column j; a writer may give one to a run of
    alike columns."""
    [found] = [d for d in list(sheet.column_dimensions.values()) if d.min is not None and d.min <= j <= d.max]
    return found


def test_one_workbook_with_every_sheet_formatted(tmp_path):
    out = tmp_path / "out"
    book = run_workbook(DEMO, out)
    assert book.sheetnames == SHEETS
    assert sorted(p.name for p in out.iterdir()) == ["assignments.csv", "plan.xlsx", "report.html", "staff.csv",
                                                     "summary.json"]
    for sheet in book:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref, sheet.title
        assert sheet.auto_filter.ref.startswith("A1:")
        assert all(column_dimension(sheet, c.column).customWidth for c in sheet[1])
        assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    staff, assignments = book["Staff"], book["Assignments"]
    for column in ("utilisation", "target_utilisation", "utilisation_before"):
        assert formats(staff, column) == {"0.0%"}
    for column in ("capacity_hours", "load_hours"):
        assert formats(staff, column) == {"#,##0.0"}
    assert formats(assignments, "probability") == {"0.0%"} and formats(assignments, "weight_hours") == {"#,##0.0"}
    assert {"case_type", "group", "candidates", "office"} <= set(header(assignments))
    assert {"office", "grade", "specialisations"} <= set(header(staff))
    j = header(staff).index("specialisations") + 1
    longest = max(len(row[0].value or "") for row in staff.iter_rows(min_row=1, min_col=j, max_col=j))
    assert column_dimension(staff, j).width >= longest > len("specialisations")  # fitted, not a default


def test_the_workbook_holds_the_csv_numbers_unrounded(tmp_path):
    out = tmp_path / "out"
    run_workbook(DEMO, out)
    csv = pd.read_csv(out / "assignments.csv", dtype={"case_id": str, "staff_id": str})
    sheet = pd.read_excel(out / "plan.xlsx", sheet_name="Assignments", dtype={"case_id": str, "staff_id": str})
    assert sheet["case_id"].tolist() == csv["case_id"].tolist()
    assert sheet["probability"].tolist() == pytest.approx(csv["probability"].tolist(), rel=1e-14)
    assert (csv["candidates"] >= 1).all() and (sheet["candidates"] == csv["candidates"]).all()


def test_the_summary_sheet_names_the_draw(tmp_path):
    out = tmp_path / "out"
    book = run_workbook(DEMO, out)
    summary = json.loads((out / "summary.json").read_text())
    items = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert items["seed"] == str(summary["seed"])  # as text: a 64-bit seed is more than a spreadsheet number keeps
    assert items["seed source"].startswith(summary["seed_source"])
    assert items["register record"] == str(summary["register"]["id"])
    assert items["record hash"] == summary["register"]["hash"]
    assert items["scenario"] == summary["scenario"]


def test_a_rebalance_adds_moves_and_previous_holders(tmp_path):
    out = tmp_path / "out"
    book = run_workbook(REBALANCE, out)
    assert book.sheetnames == ["Summary", "Assignments", "Staff", "Moves", "Lottery", "Findings"]
    assert "previous_staff_id" in header(book["Assignments"])
    assert formats(book["Moves"], "hours") == {"#,##0.0"}
    assert formats(book["Staff"], "utilisation_before") == {"0.0%"}


def test_formula_looking_ids_stay_text(tmp_path):
    cases = "\n".join(f"  - {{id: {json.dumps(c)}, type: theft}}" for c in ("=1+2", "+A1", "@SUM(A1)", "-B1"))
    out = tmp_path / "out"
    book = run_workbook(office(tmp_path, cases, staff_ids=("=P1", "-P2")), out)
    for sheet in book:
        assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"], sheet.title
    ids = [row[0] for row in book["Assignments"].iter_rows(min_row=2)]
    assert [c.value for c in ids] == ["=1+2", "+A1", "@SUM(A1)", "-B1"]
    assert all(c.data_type == "s" for c in ids)


def test_cells_the_writer_would_get_wrong(tmp_path):
    """Missing text is an empty cell, not the text "<NA>"; a text past a cell's 32,767 characters is
    cut there rather than failing the run; infinities are left empty; a column holding formula-
    looking text is marked to stay text."""
    table = pd.DataFrame({
        "id": pd.array(["=A1", None, "x" * 40_000], dtype="string"),
        "note": ["plain", None, "also plain"],
        "load_hours": [1.5, float("inf"), float("nan")],
        "ok": [True, False, True],
    })
    path = tmp_path / "t.xlsx.tmp"  # the temporary name atomic_write gives: not a .xlsx
    write_sheets({"T": table}, path)
    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    rows = list(book["T"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == ["=A1", None, "x" * 32_767]
    assert [r[1] for r in rows] == ["plain", None, "also plain"]
    assert [r[2] for r in rows] == [1.5, None, None] and [r[3] for r in rows] == [True, False, True]
    assert book["T"]["A2"].data_type == "s" and book["T"]["A2"].quotePrefix
    assert not book["T"]["B2"].quotePrefix
    assert formats(book["T"], "load_hours") == {"#,##0.0"}
