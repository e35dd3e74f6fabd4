"""`plan.xlsx`: a run in one workbook for people who read it in a spreadsheet — what was drawn,
from what and how it was recorded (Summary), the tables (Assignments, Staff, Moves), the whole
lottery (Lottery) and the findings. Only the look differs from the CSV: the numbers are the same,
percentages and hours formatted, never rounded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from balancer.io import keep_text
from balancer.pipeline import SEED_SOURCE_SAID, Result, SeedSource
from balancer.registry import BY_NAME, headline

SHEETS = {"assignments": "Assignments", "staff": "Staff", "moves": "Moves"}
"""The run's tables and the sheet each becomes."""

PERCENT = "0.0%"
HOURS = "#,##0.0"
MAX_WIDTH = 50
"""Widest column, in characters: a long id or message wraps the sheet no wider than this."""
SAMPLE_ROWS = 1000
"""Rows a column's width is measured on (the first ones): enough for ids, cheap at 100k cases."""


def write_workbook(result: Result, tables: dict[str, pd.DataFrame], summary: dict, path: Path) -> None:
    book = Workbook()
    book.remove(book.active)
    _sheet(book, "Summary", summary_rows(result, summary))
    for name, table in tables.items():
        _sheet(book, SHEETS[name], table)
    if result.design is not None:
        from balancer.plan import probability_table

        _sheet(book, "Lottery", probability_table(result.pool, result.design))
    findings = pd.DataFrame([f.to_dict() for f in result.findings], columns=["code", "severity", "message"])
    _sheet(book, "Findings", findings)
    book.save(path)


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


def _sheet(book: Workbook, title: str, table: pd.DataFrame) -> None:
    """`table` as a sheet: a frozen header row with an autofilter, widths that fit, formats by column."""
    sheet = book.create_sheet(title)
    sheet.append([str(c) for c in table.columns])
    for row in table.astype(object).where(table.notna(), None).itertuples(index=False):
        sheet.append(list(row))
    keep_text(sheet)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for j, column in enumerate(table.columns, start=1):
        letter = get_column_letter(j)
        sheet.column_dimensions[letter].width = _width(table[column])
        fmt = number_format(str(column))
        if fmt is not None:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt


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
