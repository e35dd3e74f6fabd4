"""Rows of staff, cases or caseload, from an inline YAML list or a .csv/.xlsx/.parquet table, and
the column rules that check them.

Staff, cases and caseload rows may be long (1M cases), so each row rule is one vectorised check
over a DataFrame. Inline YAML lists become a DataFrame too and go through the same checks, so
each rule exists exactly once; only rows with errors or non-empty list cells are looped over.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.scenario.bounds import MAX_ID_CHARS, MAX_TABLE_BYTES, span
from balancer.scenario.messages import (_display, _error, _listing, _read_bytes, _relative, _report, _show,
                                        _suggest)
from balancer.scenario.readers import OPTIONS, READERS, _Read
from balancer.scenario.schema import TableRef
from balancer.scenario.validation import _validate
from balancer.scenario.yaml_reader import _Doc, _Lines


@dataclass
class _Rows:
    """Rows of one kind (staff, cases, caseload) as raw values, and where each row came from."""

    kind: str  # the scenario key: staff | cases | caseload
    noun: str  # one row in messages: "staff member", "case", …
    frame: pd.DataFrame  # one column per field given; NA where a value is missing; RangeIndex
    file: str
    row_lines: np.ndarray  # line of each row
    header_line: int | None = None  # tables: line of the column names (none in Parquet)
    yaml: tuple[_Lines, tuple] | None = None  # YAML lists: the document's line map and the list's path
    ids: pd.Series | None = None  # set once the ids are valid, to name rows in messages
    decimal: str = "."  # decimal mark of numbers given as text

    @property
    def is_table(self) -> bool:
        return self.yaml is None

    def line(self, i: int, field: str | None = None, *below: Any) -> int:
        if self.yaml is not None and field is not None:
            lines, prefix = self.yaml
            return lines.at(prefix + (i, field) + below)
        return int(self.row_lines[i])

    def col(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name]
        # All-NaN float: every rule takes its fast path on it (no per-value type checks).
        return pd.Series(np.full(len(self.frame), np.nan))

    def label(self, i: int) -> str:
        return f"{self.noun} {_show(self.ids.iat[i])}" if self.ids is not None else f"entry {i + 1} of {self.kind}"

    def error(self, problem: str, i: int, field: str, *below: Any, expected: str) -> InputError:
        line = self.line(i, field, *below)
        return _error(problem, file=self.file, line=line, field=field, expected=expected)


def _fail(rows: _Rows, bad: Any, field: str, problem: str | Callable[[int], str], expected: str) -> None:
    """Report the first row where `bad` holds (raise, unless collecting errors: then the check after
    this one runs too); say on which lines the same problem recurs."""
    where = np.flatnonzero(np.asarray(bad, dtype=bool))
    if where.size == 0:
        return
    i = int(where[0])
    text = problem(i) if callable(problem) else problem
    if where.size > 1:
        more = ", ".join(str(rows.line(int(k), field)) for k in where[1:4])
        text += f" (also on line {more}{', …' if where.size > 4 else ''}: {where.size} rows in all)"
    _report(rows.error(text, i, field, expected=expected))


def _yaml_rows(kind: str, noun: str, items: list, doc: _Doc) -> _Rows:
    prefix = (kind,)
    records = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _error(f"entry {i + 1} of {kind} is {_show(item)}, not a mapping", file=doc.shown,
                         line=doc.lines.at(prefix + (i,)), field=kind,
                         expected="a mapping like {id: P01, fte: 1}")
        records.append({str(k): _clean(v) for k, v in item.items()})
    # dtype=object keeps YAML's own types, so a number where text belongs can still be reported.
    frame = pd.DataFrame(records, dtype=object)
    row_lines = np.array([doc.lines.at(prefix + (i,)) for i in range(len(records))], dtype=np.int64)
    return _Rows(kind, noun, frame, doc.shown, row_lines, yaml=(doc.lines, prefix))


class _NotANumber:
    """YAML's `.nan` in a row. pandas would take a NaN for a missing value, so it is kept apart:
    every rule refuses it as what it is not (a number, text, a list)."""

    def __repr__(self) -> str:
        return ".nan"


def _clean(value: Any) -> Any:
    """Strip text, as tables are stripped; empty text is a missing value; NaN is `_NotANumber`."""
    if isinstance(value, float) and math.isnan(value):
        return _NotANumber()
    return (value.strip() or None) if isinstance(value, str) else value


def _table_rows(kind: str, noun: str, ref: TableRef, doc: _Doc, inputs: dict[str, str]) -> _Rows:
    path = doc.path.parent / ref.path
    where = dict(file=doc.shown, line=doc.lines.at((kind,)), field=kind)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise _error(f"{ref.path!r} is not a kind of table this tool reads", **where,
                     expected="a path to a .csv, .xlsx or .parquet file, or an inline list")
    for option in ("sheet", "delimiter", "decimal"):
        if getattr(ref, option) is not None and option not in OPTIONS[suffix]:
            raise _error(f"`{option}` does not apply to a {suffix} file", file=doc.shown,
                         line=doc.lines.at((kind, option)), field=f"{kind}.{option}",
                         expected=f"{option} only on a {' or '.join(s for s, o in OPTIONS.items() if option in o)} table")
    missing = _error(f"the file {ref.path!r} does not exist (looked for {_display(path)})", **where,
                     expected="a path relative to the scenario file's folder")
    data = _read_bytes(path, missing, MAX_TABLE_BYTES)
    inputs[_relative(path, doc.path.resolve().parent)] = hashlib.sha256(data).hexdigest()
    return _table(kind, noun, READERS[suffix](data, _display(path), ref), _display(path))


def _table(kind: str, noun: str, read: _Read, shown: str) -> _Rows:
    """What a reader read as rows, blank rows dropped."""
    frame, row_lines = _normalise(read.frame, read.first_line)
    return _Rows(kind, noun, frame, shown, row_lines, read.header_line, decimal=read.decimal)


def _normalise(frame: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Strip text cells, make empty cells NA, drop blank rows; returns the frame and each row's line."""
    frame = frame.rename(columns=lambda c: str(c).strip())
    for name in frame.columns:
        if pd.api.types.is_string_dtype(frame[name]):
            column = frame[name].astype("str").str.strip()
            frame[name] = column.mask(column == "")
    # A trailing comma in the header makes an unnamed, empty column: harmless, so ignore it.
    unnamed = [c for c in frame.columns if c.startswith("Unnamed: ") and frame[c].isna().all()]
    frame = frame.drop(columns=unnamed)
    row_lines = np.arange(len(frame), dtype=np.int64) + first_line
    keep = frame.notna().any(axis=1).to_numpy() if len(frame.columns) else np.zeros(len(frame), bool)
    return frame[keep].reset_index(drop=True), row_lines[keep]


def _rows(kind: str, noun: str, doc: _Doc, inputs: dict[str, str], empty: bool = False) -> _Rows | None:
    """The rows under `kind`: an inline list or a table file; None when the key is absent (or,
    where `empty` allows it, an empty list)."""
    value = doc.data.get(kind)
    if value is None or (empty and value == []):
        return None
    where = dict(file=doc.shown, line=doc.lines.at((kind,)), field=kind)
    if isinstance(value, (str, dict)):
        ref = _validate(TableRef, {"path": value} if isinstance(value, str) else value, doc, (kind,))
        rows = _table_rows(kind, noun, ref, doc, inputs)
    elif isinstance(value, list):
        rows = _yaml_rows(kind, noun, value, doc) if value else None
    else:
        raise _error(f"{kind} is {_show(value)}", **where,
                     expected="a list of rows, a path to a .csv, .xlsx or .parquet file, or "
                              "{path: …, sheet: …} (README, \"Tables\")")
    if rows is None or len(rows.frame) == 0:
        what = f"the table {ref.path} has no rows" if rows is not None else f"the {kind} list is empty"
        raise _error(what, **where, expected=f"at least one {noun}")
    return rows


# ---------------------------------------------------------------------------------------------
# Column rules: each is one vectorised check, shared by YAML lists and tables
# ---------------------------------------------------------------------------------------------


def _check_columns(rows: _Rows, allowed: tuple[str, ...], required: tuple[str, ...],
                   yaml_only: tuple[str, ...] = ()) -> None:
    permitted = [c for c in allowed if not (rows.is_table and c in yaml_only)]
    noun = "column" if rows.is_table else "field"
    for name in rows.frame.columns:
        if name in permitted:
            continue
        if rows.is_table and name in yaml_only:
            problem = f"{name!r} can only be given inline in the scenario YAML, not in a table"
        else:
            problem = f"unknown {noun} {name!r} in {rows.kind}{_suggest(name, permitted)}"
        if rows.is_table and ";" in name:  # a ';'-separated file read with another delimiter
            problem += " (the header holds ';': if the file is ';'-separated, say so with `delimiter: ';'`)"
        line = rows.header_line if rows.is_table else _first_use(rows, name)
        _report(_error(problem, file=rows.file, line=line, field=name,
                       expected=f"only the {rows.kind} {noun}s {_listing(permitted)}"))
    for name in required if rows.is_table else ():
        if name not in rows.frame.columns:
            optional = _listing(c for c in permitted if c not in required)
            raise _error(f"the {rows.kind} table has no {name!r} column", file=rows.file,
                         line=rows.header_line, field=name,
                         expected=f"a header with the columns {_listing(required)} (optional: {optional})")


def _first_use(rows: _Rows, name: str) -> int:
    lines, prefix = rows.yaml
    first = next((i for i in range(len(rows.frame)) if prefix + (i, name) in lines), 0)
    return rows.line(first, name)


def _text(rows: _Rows, field: str, required: bool = False) -> pd.Series:
    """The field as text (str dtype, NA where missing; all-NaN when the field is absent). A YAML
    number where text belongs is an error, never converted: `id: 007` would otherwise become '7'."""
    s = rows.col(field)
    present = s.notna().to_numpy()
    not_text = "{} for {} is not text"
    if s.dtype == object:
        is_text = np.fromiter((isinstance(v, str) for v in s.to_numpy()), bool, len(s))
        _fail(rows, present & ~is_text, field, lambda i: not_text.format(_show(s.iat[i]), rows.label(i)),
              "text (put ids that look like numbers in quotes: id: '007')")
    elif pd.api.types.is_integer_dtype(s):  # a Parquet column of integer ids: unambiguous as text
        s = s.astype("str")
    elif not pd.api.types.is_string_dtype(s):
        _fail(rows, present, field, lambda i: not_text.format(_show(s.iat[i]), rows.label(i)),
              "a text column")
    if required:
        _fail(rows, ~present, field, lambda i: f"{rows.label(i)} has no {field!r}",
              f"a {field!r} for every {rows.noun}")
    if not present.any():  # an absent column: turning a million NaN into text costs 0.1 s for nothing
        return s
    s = s if s.dtype == "str" else s.astype("str")
    _fail(rows, (s.str.len() > MAX_ID_CHARS).fillna(False).to_numpy(), field,
          lambda i: f"the {field} {_show(s.iat[i])} has {len(s.iat[i]):,} characters",
          f"at most {MAX_ID_CHARS} characters")
    return s


_DECIMALS = {".": "with '.' for decimals (`decimal: ','` on the table reference for decimal commas)",
             ",": "with ',' for decimals, as this table's decimal mark is (`decimal: '.'` on the table "
                  "reference if it is '.')"}


def _number(rows: _Rows, field: str, within: tuple[float, float], zero: bool = False) -> np.ndarray:
    """The field as float64 (NaN where missing), each given value within `within` (or 0 when `zero`)."""
    s = rows.col(field)
    present = s.notna().to_numpy()
    values = _floats(s, rows.decimal)
    expected = f"a number {span(within)}{' or 0' if zero else ''}"
    _fail(rows, present & np.isnan(values), field,
          lambda i: f"{_show(s.iat[i])} for {rows.label(i)} is not a number",
          f"{expected}, {_DECIMALS[rows.decimal]}" if rows.is_table else expected)
    inside = (values >= within[0]) & (values <= within[1]) | (zero & (values == 0))
    _fail(rows, present & ~np.isnan(values) & ~inside, field,
          lambda i: f"{_show(s.iat[i]) if s.dtype == object else f'{values[i]:,.10g}'} for {rows.label(i)} "
                    "is out of range", f"{expected} (README, \"Limits\")")
    return values


def _floats(s: pd.Series, decimal: str) -> np.ndarray:
    """Numbers as float64, NaN for anything that is not one. Text is read with `decimal` as the decimal
    mark and refused when it holds the other mark (in '1.500' with decimal ',', '.' groups thousands)."""
    if pd.api.types.is_bool_dtype(s):
        return np.full(len(s), np.nan)
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if s.dtype == object:  # YAML values: true/false and lists are not numbers
        s = pd.Series([_yaml_number(v) for v in s], dtype=object)
    else:
        other = "." if decimal == "," else ","
        s = s.mask(s.str.contains(other, regex=False).fillna(False)).str.replace(decimal, ".", regex=False)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _yaml_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, int):  # YAML reads any number of digits; a float holds up to about 1.8e308
        return float(value) if abs(value) < 2**1023 else math.inf if value > 0 else -math.inf
    return value


def _lists(rows: _Rows, field: str) -> tuple[np.ndarray, np.ndarray]:
    """The field as tuples of text (`()` where missing), and the positions of the non-empty ones.
    A text cell is `;`-separated; YAML (and Parquet) may also give a real list."""
    s = rows.col(field)
    out = np.empty(len(s), dtype=object)
    out.fill(())
    given = np.flatnonzero(s.notna().to_numpy())
    if given.size == 0:
        return out, given
    values = s.iloc[given]
    if values.dtype == "str":  # table cells: one vectorised split, then a loop over given cells only
        for i, parts in zip(given, values.str.split(";")):
            out[i] = tuple(p for p in (x.strip() for x in parts) if p)
    else:
        for i, value in zip(given, values):
            out[i] = _one_list(rows, field, int(i), value)
    longest = np.zeros(len(s), np.int64)
    longest[given] = [max(map(len, out[i]), default=0) for i in given]
    _fail(rows, longest > MAX_ID_CHARS, field,
          lambda i: f"an entry of the {field} of {rows.label(i)} has {longest[i]:,} characters",
          f"entries of at most {MAX_ID_CHARS} characters")
    return out, given[np.fromiter((len(out[i]) > 0 for i in given), bool, given.size)]


def _one_list(rows: _Rows, field: str, i: int, value: Any) -> tuple:
    if isinstance(value, str):
        return tuple(p for p in (x.strip() for x in value.split(";")) if p)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise rows.error(f"{_show(value)} for {rows.label(i)} is not a list", i, field,
                         expected="a list like [a, b] or text like 'a;b'")
    for j, item in enumerate(value):
        if not isinstance(item, str):
            raise rows.error(f"{_show(item)} in the {field} list of {rows.label(i)} is not text", i, field, j,
                             expected="text (quote numbers)")
    return tuple(p for p in (x.strip() for x in value) if p)


def _ids(rows: _Rows) -> pd.Series:
    ids = _text(rows, "id", required=True)
    if not pd.Index(ids).is_unique:  # the common, clean case costs one hash pass
        dup = ids.duplicated(keep=False).to_numpy()
        i = int(np.flatnonzero(dup)[0])
        twin = int(np.flatnonzero(dup & (ids == ids.iat[i]).to_numpy())[1])
        count = int(ids[dup].nunique())
        more = f" ({count} ids are used more than once)" if count > 1 else ""
        raise rows.error(f"{rows.noun} id {ids.iat[i]!r} is used twice: on line {rows.line(i, 'id')} and on "
                         f"line {rows.line(twin, 'id')}{more}", twin, "id",
                         expected=f"each {rows.noun} id once")
    rows.ids = ids
    return ids


def _known(rows: _Rows, field: str, values: pd.Series, known: list[str] | pd.Series, what: str) -> None:
    bad = values.notna().to_numpy() & ~values.isin(known).to_numpy()
    _fail(rows, bad, field,
          lambda i: f"{what} {values.iat[i]!r} of {rows.label(i)} is unknown{_suggest(values.iat[i], known)}",
          f"one of the {what}s: {_listing(known)}")


def _known_in_lists(rows: _Rows, field: str, lists: np.ndarray, given: np.ndarray, known: pd.Series) -> None:
    """Every id in the non-empty lists is a known staff id (one `isin` over all of them)."""
    if given.size == 0:
        return
    ends = np.cumsum([len(lists[i]) for i in given])
    flat = pd.Series(np.concatenate([np.asarray(lists[i], dtype=object) for i in given]), dtype=object)
    unknown = np.flatnonzero(~flat.isin(known).to_numpy())
    if unknown.size == 0:
        return
    k = int(unknown[0])
    row = int(np.searchsorted(ends, k, side="right"))
    i, j = int(given[row]), k - (int(ends[row - 1]) if row else 0)
    more = f" ({unknown.size} unknown ids in all)" if unknown.size > 1 else ""
    raise rows.error(f"staff id {flat.iat[k]!r} in the {field} list of {rows.label(i)} is unknown"
                     f"{_suggest(flat.iat[k], known)}{more}", i, field, j,
                     expected="ids of staff in this scenario")


def _object(values: pd.Series) -> pd.Series:
    """Text column as object dtype with None for missing (explicit: pandas 3 would infer `str`)."""
    return pd.Series(values.to_numpy(dtype=object, na_value=None), dtype=object)

