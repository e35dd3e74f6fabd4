"""`plan.xlsx`: a run in one workbook for people who read it in a spreadsheet — what was drawn,
from what and how it was recorded (Summary), the tables (Assignments, Staff, Moves), the whole
lottery (Lottery) and the findings. Only the look differs from the CSV: the numbers are the same
(the staff table's rounded as in staff.csv, `balancer.tables.rounded`), percentages and hours
formatted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rustpy_xlsxwriter import FastExcel, Format

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
EXCEL_TEXT = 32_767
"""The most characters a spreadsheet cell holds; a longer text is cut there (as Excel itself would)."""


def write_workbook(result: Result, tables: dict[str, pd.DataFrame], summary: dict, path: Path) -> None:
    """Written by rust_xlsxwriter (through rustpy-xlsxwriter) a whole table at a time: the Python
    XlsxWriter, one Python call per cell, took 16 s at 100,000 cases (this, 2.3 s), more than the
    rest of the run. Text is only ever written as text, never read as a formula, number or link."""
    sheets = {"Summary": summary_rows(result, summary)}
    sheets.update({SHEETS[name]: table for name, table in tables.items()})
    if result.design is not None:
        from balancer.plan import probability_table

        sheets["Lottery"] = probability_table(result.pool, result.design)
    sheets["Findings"] = pd.DataFrame([f.to_dict() for f in result.findings], columns=["code", "severity", "message"])
    write_sheets(sheets, path)


def write_sheets(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """Each table as a sheet of that title, in order."""
    book = FastExcel(path, output_format="xlsx")  # `path` may be a temporary name, not ending in .xlsx
    for title, table in sheets.items():
        _sheet(book, title, table)
    book.freeze(row=1).save()


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


def _sheet(book: FastExcel, title: str, table: pd.DataFrame) -> None:
    """`table` as a sheet: a header row (frozen, by `write_sheets`) with an autofilter, widths that
    fit, formats by column; a text column holding a cell a spreadsheet would take for a formula is
    marked to stay text when edited (the mark is per column: an id typed over one stays text too)."""
    cells, formats = {}, {}
    for column in table.columns:
        name, values = str(column), _cells(table[column])
        fmt = number_format(name)
        if fmt is not None:
            formats[name] = Format().set_num_format(fmt)
        elif values.dtype == object and any(isinstance(v, str) and v.startswith(FORMULA_START) for v in values):
            formats[name] = Format().set_quote_prefix()
        cells[name] = values
    book.sheet(title, pd.DataFrame(cells, index=range(len(table))), autofilter=True,
               column_widths=[_width(table[c]) for c in table.columns], column_formats=formats or None)


def _cells(values: pd.Series) -> np.ndarray:
    """A column as the writer takes it: numbers as float64 (±inf and missing left blank), text and
    other cells as Python objects with None for missing (a pandas string column's missing value
    would otherwise be written as the text "<NA>"), text cut at Excel's 32,767 characters."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(np.float64, na_value=np.nan)
        return np.where(np.isfinite(numbers), numbers, np.nan)
    cells = values.astype(object).where(values.notna(), None).tolist()
    return np.array([v[:EXCEL_TEXT] if isinstance(v, str) and len(v) > EXCEL_TEXT else v for v in cells],
                    dtype=object)


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
