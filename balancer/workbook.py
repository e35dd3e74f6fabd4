"""`plan.xlsx`: a run in one workbook for people who read it in a spreadsheet — what was drawn,
from what and how it was recorded (Summary), the tables (Assignments, Staff, Moves), the whole
lottery (Lottery) and the findings. Only the look differs from the CSV: the numbers are the same,
percentages and hours formatted, never rounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from balancer.pipeline import SEED_SOURCE_SAID, Result, SeedSource
from balancer.registry import BY_NAME, headline
from balancer.tables import FORMULA_START

SHEETS = {"assignments": "Assignments", "staff": "Staff", "moves": "Moves"}
"""The run's tables and the sheet each becomes."""

PERCENT = "0.0%"
HOURS = "#,##0.0"
MAX_WIDTH = 50
"""Widest column, in characters: a long id or message wraps the sheet no wider than this."""
SAMPLE_ROWS = 1000
"""Rows a column's width is measured on (the first ones): enough for ids, cheap at 100k cases."""


def write_workbook(result: Result, tables: dict[str, pd.DataFrame], summary: dict, path: Path) -> None:
    """Written with XlsxWriter, column by column (openpyxl's cell objects took 100 s at 100,000
    cases); text is only ever written as text, never read as a formula, number or link."""
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                           "strings_to_urls": False, "nan_inf_to_errors": False})
    _sheet(book, "Summary", summary_rows(result, summary))
    for name, table in tables.items():
        _sheet(book, SHEETS[name], table)
    if result.design is not None:
        from balancer.plan import probability_table

        _sheet(book, "Lottery", probability_table(result.pool, result.design))
    findings = pd.DataFrame([f.to_dict() for f in result.findings], columns=["code", "severity", "message"])
    _sheet(book, "Findings", findings)
    book.close()


def summary_rows(result: Result, summary: dict) -> pd.DataFrame:
    """What was drawn and how, in plain words: one (item, value) row each, values as text (a 64-bit
    seed is more digits than a spreadsheet number keeps)."""
    record = summary.get("register") or {}
    rows = [
        ("scenario", summary["scenario"]),
        ("status", summary["status"]),
        ("seed", str(summary["seed"])),
        ("seed source", f"{summary['seed_source']}: {SEED_SOURCE_SAID[SeedSource(summary['seed_source'])]}"),
        ("register record", str(record.get("id", "not recorded"))),
        ("record hash", record.get("hash", "")),
        ("register", record.get("register", "")),
        ("inputs (canonical SHA-256)", summary["canonical_sha256"]),
        ("version", summary["version"]),
    ]
    rows += [(BY_NAME[name].label, BY_NAME[name].show(value)) for name, value in headline(result.metrics).items()]
    return pd.DataFrame(rows, columns=["item", "value"])


def _sheet(book, title: str, table: pd.DataFrame) -> None:
    """`table` as a sheet: a frozen header row with an autofilter, widths that fit, formats by
    column; a text cell a spreadsheet would take for a formula is marked to stay text when edited."""
    sheet = book.add_worksheet(title)
    sheet.write_row(0, 0, [str(c) for c in table.columns])
    quoted = book.add_format({"quote_prefix": True})
    for j, column in enumerate(table.columns):
        fmt = number_format(str(column))
        cell_format = book.add_format({"num_format": fmt}) if fmt is not None else None
        values = table[column]
        sheet.set_column(j, j, _width(values), cell_format)
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric:
            _numbers(sheet, j, values.to_numpy(np.float64, na_value=np.nan), cell_format)
        else:
            _texts(sheet, j, values.astype(object).where(values.notna(), None).tolist(), cell_format, quoted)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(table), 1), max(len(table.columns) - 1, 0))


def _numbers(sheet, j: int, values: np.ndarray, cell_format) -> None:
    write, blank = sheet.write_number, sheet.write_blank
    for i, v in enumerate(values.tolist(), start=1):
        if v == v and v not in (np.inf, -np.inf):
            write(i, j, v, cell_format)
        elif cell_format is not None:
            blank(i, j, None, cell_format)  # an empty cell keeps the column's look


def _texts(sheet, j: int, values: list, cell_format, quoted) -> None:
    for i, v in enumerate(values, start=1):
        if v is None:
            continue
        if isinstance(v, (bool, np.bool_)):
            sheet.write_boolean(i, j, bool(v))
        elif isinstance(v, (int, float, np.integer, np.floating)):
            sheet.write_number(i, j, float(v), cell_format)
        else:
            text = str(v)
            sheet.write_string(i, j, text, quoted if text.startswith(FORMULA_START) else cell_format)


def number_format(column: str) -> str | None:
    """Shares as percentages, hours with one decimal; None: as written."""
    if "utilisation" in column or column == "probability":
        return PERCENT
    if "hours" in column:
        return HOURS
    return None


def _width(values: pd.Series) -> float:
    sample = values.head(SAMPLE_ROWS).map(lambda v: len(str(v)) if v is not None else 0)
    return min(max(len(str(values.name)), int(sample.max()) if len(sample) else 0) + 2, MAX_WIDTH)
