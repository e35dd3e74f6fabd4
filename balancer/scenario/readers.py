"""Table files → raw DataFrames of text (CSV, XLSX) or typed columns (Parquet), each row with its
line, and every cell a reader cannot take as written named by file, line and cell.

What each reader refuses rather than guesses:
- CSV: a row with more cells than the header (pandas would shift the row, or take the first column
  as an index), or fewer (pandas would fill the missing cells in as empty: a row cut short, read
  as a prosecutor with no specialisations, or a case with no exclusions). The delimiter (`,` `;` tab `|`) is the one the header holds most of, unless the
  table reference names it; the decimal mark is `,` for `;`-separated files (as Excel writes them
  where the comma is the decimal mark), else `.`, unless named.
- XLSX: a workbook whose table sheet is not named while several sheets hold values (one of them
  would be silently ignored); formula cells (a file saved by a program that does not compute them
  holds no value) and error cells (`#N/A`); date cells outside a `date` column (Excel turns an
  id like 2025-01-01 into a date); a zip archive that unpacks to more than `MAX_UNPACKED_BYTES`.
- Parquet: NaN in a float column (null is a missing value; NaN is not a number).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from balancer.scenario.bounds import MAX_UNPACKED_BYTES
from balancer.scenario.messages import _error, _listing, _report, _show, _suggest
from balancer.scenario.schema import TableRef

DATE_COLUMNS = ("date", "filed", "assigned", "disposed")
"""Columns whose cells may be dates: the arrival day of new cases (`balancer intake`), a time
record's day (`balancer measure`), a register's case dates (`balancer kpi`: exports are
workbooks of date cells)."""
_DELIMITERS = (",", ";", "\t", "|")
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class _Read(NamedTuple):
    frame: pd.DataFrame
    """One column per header cell; text cells as str ('' where empty) or typed Parquet columns."""
    first_line: int
    """Line of data row 0."""
    header_line: int | None
    """Line of the column names (none in Parquet)."""
    decimal: str = "."
    """Decimal mark of numbers written as text."""


def _header(names: list[Any], shown: str, line: int) -> list[str]:
    """Column names: stripped; an empty one `Unnamed: i` (a trailing delimiter makes one); each once."""
    out = [str(n).strip() if n is not None and str(n).strip() else f"Unnamed: {i}" for i, n in enumerate(names)]
    for i, name in enumerate(out):
        if name in out[:i]:
            raise _error(f"the column {name!r} appears twice", file=shown, line=line, field=name,
                         expected="each column name once in the header")
    return out


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _first_line(data: bytes) -> bytes:
    return data[:data.find(b"\n")] if b"\n" in data else data


def _delimiter(data: bytes) -> str:
    """Of `,` `;` tab `|`, the one the header line holds most of (a comma when it holds none)."""
    head = _first_line(data)
    counts = {d: head.count(d.encode()) for d in _DELIMITERS}
    best = max(counts, key=counts.__getitem__)  # on a tie, the first listed
    return best if counts[best] else ","


def _hint(data: bytes, sep: str) -> str:
    """When the header holds another delimiter: a hint that the file may be separated by it."""
    head = _first_line(data)
    other = next((d for d in _DELIMITERS if d != sep and d.encode() in head), None)
    return f" (the header holds {other!r}: if the file is {other!r}-separated, say so with `delimiter: {other!r}`)" \
        if other else ""


def _read_csv(data: bytes, shown: str, ref: TableRef) -> _Read:
    sep = ref.delimiter or _delimiter(data)
    said = "tab" if sep == "\t" else repr(sep)
    try:
        # No header row for pandas: it then refuses a row longer than the header instead of taking
        # the first column as an index. Blank lines are kept (dropped after numbering) so that data
        # row i sits on line i + 2.
        frame = pd.read_csv(io.BytesIO(data), sep=sep, header=None, dtype=str, keep_default_na=False,
                            skip_blank_lines=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise _error("the file is empty", file=shown, line=1,
                     expected="a header line of column names, then one row per line") from None
    except pd.errors.ParserError as exc:
        found = _FIELDS.search(str(exc))
        problem = (f"line {found[2]} has {found[3]} cells where the header has {found[1]}" if found
                   else f"cannot read the CSV: {exc}") + _hint(data, sep)
        raise _error(problem, file=shown, line=int(found[2]) if found else None,
                     expected=f"as many {said}-separated cells on every line as in the header (quote cells "
                              f"that contain {said})") from None
    except UnicodeDecodeError:
        raise _error("the file is not UTF-8 text", file=shown, expected="a CSV file saved as UTF-8") from None
    short = _short_line(data, sep, frame.shape[1])
    if short is not None:
        line, cells = short
        raise _error(f"line {line} has {cells} cell(s) where the header has {frame.shape[1]}" + _hint(data, sep),
                     file=shown, line=line, expected=f"as many {said}-separated cells on every line as in the "
                                                      f"header (leave a cell empty, but keep its {said})")
    frame.columns = _header(list(frame.iloc[0]), shown, 1)
    decimal = ref.decimal or ("," if sep == ";" else ".")
    return _Read(frame.iloc[1:].reset_index(drop=True), 2, 1, decimal)


def _short_line(data: bytes, sep: str, width: int) -> tuple[int, int] | None:
    """(line, cells) of the first non-blank line with fewer than `width` cells, or None. Without
    quotes a line's cells are its delimiters plus one, counted at numpy speed (the whole check is
    ~0.05 s on a million rows); a file with quotes is split by the csv module."""
    if b'"' in data:
        text = data.decode("utf-8-sig")
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        return next(((rows.line_num, len(row)) for row in rows if row and len(row) < width), None)
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if not len(ends) or ends[-1] != len(raw) - 1:
        ends = np.append(ends, len(raw))
    starts = np.r_[0, ends[:-1] + 1]
    seps = np.flatnonzero(raw == ord(sep))
    cells = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
    length = ends - starts - (raw[np.maximum(ends - 1, 0)] == ord("\r"))
    bad = np.flatnonzero((cells < width) & (length > 0))
    return (int(bad[0]) + 1, int(cells[bad[0]])) if len(bad) else None


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, shown: str, ref: TableRef) -> _Read:
    import openpyxl  # only workbooks need it

    _unpacked_size(data, shown)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl and zipfile raise many kinds for a damaged or misnamed file
        raise _error(f"cannot read the workbook: {exc}", file=shown,
                     expected="an .xlsx workbook with the column names in row 1") from None
    try:
        sheet = _sheet(book, ref, shown)
        rows = [list(row) for row in sheet.iter_rows(min_row=1)]
    finally:
        book.close()
    if not rows:
        raise _error(f"sheet {sheet.title!r} is empty", file=shown, line=1,
                     expected="the column names in row 1, then one row per line")
    width = max(map(len, rows))
    names = _header([c.value for c in rows[0]] + [None] * (width - len(rows[0])), shown, 1)
    values = _cell_values(rows[1:], names, sheet.title, shown)
    return _Read(pd.DataFrame(values, columns=names, dtype=object).astype("str"), 2, 1)


def _unpacked_size(data: bytes, shown: str) -> None:
    try:
        size = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except zipfile.BadZipFile:
        raise _error("this is not an .xlsx workbook (not a zip archive)", file=shown,
                     expected="a workbook saved as .xlsx (not .xls or .csv renamed)") from None
    if size > MAX_UNPACKED_BYTES:
        raise _error(f"the workbook unpacks to {size:,} bytes, more than the {MAX_UNPACKED_BYTES:,} this tool "
                     "reads", file=shown, expected="a smaller workbook (README, \"Limits\")")


def _sheet(book: Any, ref: TableRef, shown: str) -> Any:
    """The sheet `ref` names; else the only one that holds values."""
    names = book.sheetnames
    if ref.sheet is not None:
        if ref.sheet not in names:
            raise _error(f"the workbook has no sheet {ref.sheet!r}{_suggest(ref.sheet, names)}", file=shown,
                         field="sheet", expected=f"one of its sheets: {_listing(names)}")
        return book[ref.sheet]
    filled = [name for name in names if _holds_values(book[name])]
    if len(filled) > 1:
        raise _error(f"the workbook has {len(filled)} sheets that hold values ({_listing(filled)}), and nothing "
                     "says which one is the table", file=shown, field="sheet",
                     expected=f"the sheet named: in a scenario {{path: {ref.path}, sheet: {filled[-1]}}}, for "
                              f"intake's new cases --sheet {filled[-1]}")
    return book[(filled or names)[0]]


def _holds_values(sheet: Any) -> bool:
    return any(v is not None for row in sheet.iter_rows(values_only=True) for v in row)


def _cell_values(rows: list[list[Any]], names: list[str], title: str, shown: str) -> list[list[str]]:
    """Each cell as the text it shows (numbers as pandas writes them: 7, not 7.0); formula, error
    and date cells are reported (all of a kind in one message) and left empty."""
    bad: dict[str, list[tuple[int, int, Any]]] = {"formula": [], "error": [], "date": []}
    out = []
    for r, row in enumerate(rows, start=2):
        texts = [""] * len(names)
        for j, cell in enumerate(row):
            value, kind = cell.value, cell.data_type
            if value is None:
                continue
            if kind == "f":
                bad["formula"].append((r, j, value))
            elif kind == "e":
                bad["error"].append((r, j, value))
            elif isinstance(value, (datetime, date, time)) and names[j] not in DATE_COLUMNS:
                bad["date"].append((r, j, value))
            else:
                texts[j] = _text_of(value)
        out.append(texts)
    for kind, cells in bad.items():
        if cells:
            _report(_bad_cells(kind, cells, names, title, shown))
    return out


def _text_of(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time():
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, (date, time)) else str(value)


_WHY = {
    "formula": ("holds a formula ({value}): its value is not stored in every file",
                "values, not formulas (copy the column and paste it as values)"),
    "error": ("holds the spreadsheet error {value}", "a value in every cell of the table"),
    "date": ("holds a date ({value}) where text or a number belongs (spreadsheets turn values like "
             "2025-01-01 into dates)", "text: format the column as Text before typing, or type an "
             "apostrophe before the value ('2025-01-01)"),
}


def _bad_cells(kind: str, cells: list[tuple[int, int, Any]], names: list[str], title: str, shown: str):
    from openpyxl.utils import get_column_letter

    def cell(r: int, j: int) -> str:
        return f"{get_column_letter(j + 1)}{r}"

    r, j, value = cells[0]
    problem, expected = _WHY[kind]
    text = f"sheet {title!r}, cell {cell(r, j)} " + problem.format(value=_show(_text_of(value)))
    if len(cells) > 1:
        more = ", ".join(cell(r2, j2) for r2, j2, _ in cells[1:4])
        text += f" (so do {more}{', …' if len(cells) > 4 else ''}: {len(cells)} cells in all)"
    return _error(text, file=shown, line=r, field=names[j], expected=expected)


# ---------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------


def _read_parquet(data: bytes, shown: str, ref: TableRef) -> _Read:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, … for a damaged file
        raise _error(f"cannot read the Parquet file: {exc}", file=shown,
                     expected="a Parquet file with one column per field") from None
    for name, column in zip(table.column_names, table.columns):
        if pt.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            row = int(pc.index(pc.is_nan(column), True).as_py())
            _report(_error(f"row {row + 1} of column {name!r} is NaN, not a number", file=shown, line=row + 1,
                           field=name, expected="a number, or null where the value is missing"))
    frame = table.to_pandas()
    frame.columns = _header(list(frame.columns), shown, 1)
    return _Read(frame.reset_index(drop=True), 1, None)


READERS = {".csv": _read_csv, ".xlsx": _read_xlsx, ".parquet": _read_parquet}
"""Table readers by file suffix: (bytes, the file's name in messages, its reference) → `_Read`."""
OPTIONS = {".csv": ("delimiter", "decimal"), ".xlsx": ("sheet",), ".parquet": ()}
"""Which `TableRef` options each kind of table takes."""
