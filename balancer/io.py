"""Write step: output files, each written to a temporary name and renamed, never left partial;
a run's output folder written whole, under a temporary name beside it, and renamed into place."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from balancer.errors import BalancerError, InputError
from balancer.pipeline import Result
from balancer.indicators import indicators, records
from balancer.tables import FORMULA_START, output_tables, rounded

if TYPE_CHECKING:
    from balancer.register import Recorded

FORMATS = ("csv", "parquet", "xlsx")

WORKBOOK = "plan.xlsx"
"""A run's tables in XLSX: one workbook (`balancer.workbook`), not one bare workbook per table."""



class OutputTaken(BalancerError):
    """The output folder was filled by someone else between the check and the rename."""


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files (`write` may narrow it)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_secret(path: Path, text: str) -> None:
    """Write `text` to a new file only its owner can read, from its first byte, and never over an
    existing file: a temporary file made 0600 by `mkstemp`, synced, then hard-linked into place
    (which fails if `path` exists), so no one else can read it while it is written and a crash
    leaves no half-written secret under `path`. FileExistsError when `path` exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- whole output folders --------------------------------------------------------------------


def check_outputs(out: Path, probabilities: Path | None = None) -> None:
    """Before anything is drawn or recorded: `out` can become a new folder of this run's files
    (it does not exist, or is an empty folder, and a folder can be made beside it), and
    `probabilities`, if given, can be written. InputError naming the path otherwise."""
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        raise InputError(f"--out {out}: exists and is not a folder; give a new folder for the outputs")
    if _holds_files(out):
        raise InputError(
            f"--out {out}: the folder already holds files (an earlier run's?). A run writes a new folder "
            "whole and never mixes its files with another run's: give a new --out, or move that folder "
            "away first")
    _probe(out.parent, f"--out {out}")
    if probabilities is not None and _inside(probabilities, out):
        if probabilities.stem in ("assignments", "staff", "moves", "summary", "report", Path(WORKBOOK).stem):
            raise InputError(f"--probabilities {probabilities}: would replace one of the run's own files")
    elif probabilities is not None:
        if probabilities.is_dir():
            raise InputError(f"--probabilities {probabilities}: is a folder; give a file name")
        _probe(probabilities.parent, f"--probabilities {probabilities}")


def write_folder(out: Path, write: Callable[[Path], None], record: Recorded | None = None) -> None:
    """Make `out` whole or not at all: `write(tmp)` fills a new hidden folder beside `out` (same
    file system), which is then renamed to `out`. The rename is atomic and fails when `out` holds
    anything, so a folder is always one run's files, and of two runs into one folder only one
    succeeds. The temporary folder is removed whatever happens (a killed run leaves it behind:
    `.NAME.*.tmp`, never a partial `out`)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as e:
        raise BalancerError(f"cannot write {out}: {e.strerror or e}{_recorded(record)}") from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; an output folder is an ordinary one
        write(tmp)
        _sync(tmp)
        os.rename(tmp, out)
    except OSError as e:
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise OutputTaken(f"{out} was filled by another run meanwhile; nothing of this run was written "
                              f"there{_recorded(record)}") from None
        raise BalancerError(f"cannot write {out}: {e.strerror or e}{_recorded(record)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _holds_files(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(folder.iterdir())
    except OSError as e:
        raise InputError(f"--out {folder}: cannot look inside ({e.strerror or e})") from None


def _probe(folder: Path, what: str) -> None:
    """Make `folder` (and its parents) and a temporary folder in it: whatever `os.access` says
    (it is always yes for root), this is what writing there will need."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(dir=folder, prefix=".balancer-probe.", suffix=".tmp")).rmdir()
    except OSError as e:
        raise InputError(f"{what}: cannot write there ({e.strerror or e})") from None


def _inside(path: Path, folder: Path) -> bool:
    return path.absolute().is_relative_to(folder.absolute())


def _sync(folder: Path) -> None:
    """Flush the folder's files to disk before it is renamed into place: after a power cut the
    rename may survive, and then the files must too."""
    for path in [*folder.rglob("*"), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _recorded(record: Recorded | None) -> str:
    if record is None:
        return ""
    return (f". The draw is recorded (record {record.id} in {record.register}) without files; "
            f"`balancer verify {record.id} --inputs SCENARIO` replays it")


# --- tables -----------------------------------------------------------------------------------


def inert(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every text cell a spreadsheet would run as a formula (one beginning with = + - @,
    tab or CR) prefixed with `'` (OWASP's advice for CSV), and so is one beginning with `'`, so
    that dropping one leading `'` always gives the text back. Numbers stay numbers (-3 is -3)."""
    out = df
    for col in _text_columns(df):
        values = df[col]
        risky = _text_cells(values, lambda text: text.startswith((*FORMULA_START, "'")))
        if risky.any():
            out = out.copy() if out is df else out
            out[col] = values.mask(risky, "'" + values[risky])
    return out


def restored(text: str) -> str:
    """A text cell of a table `inert` wrote, as it was given: one leading `'` dropped."""
    return text[1:] if text.startswith("'") else text


def _text_cells(values: pd.Series, test) -> pd.Series:
    """(rows,) bool: the text cells of `values` for which `test(values.str)` holds; any other cell
    (a number, None) is False. Through pandas' string methods: a Python call per cell took 10 s
    for a million cases' tables."""
    try:
        text = values.str
    except AttributeError:  # a column with no text at all (pandas refuses .str there)
        return pd.Series(False, index=values.index)
    return test(text).astype(object).fillna(False).astype(bool)


def _text_columns(df: pd.DataFrame) -> list:
    return [c for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]


def _to_csv(df: pd.DataFrame, path: Path) -> None:
    """`inert(df)` as CSV. Lines end in LF, so a CR inside a cell would not be quoted and a reader
    would break the row there: a table holding one has all its text cells quoted."""
    has_cr = any(_text_cells(df[c], lambda text: text.contains("\r", regex=False)).any() for c in _text_columns(df))
    inert(df).to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL)


def write_table(df: pd.DataFrame, path: Path) -> None:
    fmt = path.suffix.lstrip(".")
    if fmt == "csv":
        atomic_write(path, lambda tmp: _to_csv(df, tmp))
    elif fmt == "parquet":
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    elif fmt == "xlsx":
        atomic_write(path, lambda tmp: _to_excel(df, tmp))
    else:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {FORMATS}")


def _to_excel(df: pd.DataFrame, path: Path) -> None:
    """The table as a workbook in which every text cell is text: openpyxl stores a string beginning
    with `=` as a formula, which Excel would run, so such cells are made string cells again (and
    marked to stay text when edited). The text itself is kept as it is."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        df.to_excel(writer, index=False)
        keep_text(next(iter(writer.sheets.values())))


def keep_text(sheet, min_row: int = 2) -> None:
    """Every cell of `sheet` from `min_row` on that openpyxl took for a formula (a text beginning
    with `=`) made a string cell again, marked to stay text when edited: for every workbook we
    write, a single table's and a run's (`balancer.workbook`)."""
    for row in sheet.iter_rows(min_row=min_row):
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"
                cell.quotePrefix = True


def write_json(data: dict, path: Path) -> None:
    text = json.dumps(data, indent=2, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_outputs(result: Result, out_dir: str | Path, formats=("csv",), record: Recorded | None = None,
                  probabilities: Path | None = None) -> list[Path]:
    """A run's output folder, whole (`write_folder`): its tables and summary.json (`write_files`),
    report.html, and the probability table when `probabilities` is inside it; one elsewhere is
    written after."""
    out = Path(out_dir)
    inside = probabilities is not None and _inside(probabilities, out)

    names: list[str] = []

    def write(tmp: Path) -> None:
        tables = output_tables(result)  # once, for the files and the report alike
        groups = indicators(result, tables)
        names.extend(path.name for path in write_files(result, tmp, formats, record, tables, groups))
        write_report(result, tmp / "report.html", record, groups)
        names.append("report.html")
        if inside:
            _write_probabilities(result, tmp / probabilities.absolute().relative_to(out.absolute()))

    write_folder(out, write, record)
    written = [out / name for name in names]
    if probabilities is not None:
        if not inside:
            try:
                _write_probabilities(result, probabilities)
            except OSError as e:
                raise BalancerError(f"cannot write {probabilities}: {e.strerror or e}; the rest of the run "
                                    f"is written to {out}") from None
        written.append(probabilities)
    return written


def write_intake(intake, folder: Path) -> list[Path]:
    """An intake's tables and summary.json (`write_tables`), then its report.html, into `folder`
    (the temporary folder `write_folder` renames into place)."""
    from balancer.intake_report import intake_report_html  # matplotlib only when a report is written

    written = write_tables(folder, intake.tables(), intake.summary())
    text = intake_report_html(intake)
    atomic_write(folder / "report.html", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return [*written, folder / "report.html"]


def write_report(result: Result, path: Path, record: Recorded | None = None,
                 groups: dict[str, pd.DataFrame] | None = None) -> None:
    """report.html; `groups`: the run's `indicators`, when the caller has them already."""
    from balancer.report import report_html  # matplotlib only when a report is written

    text = report_html(result, record.to_dict() if record is not None else None, groups)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_files(result: Result, folder: Path, formats=("csv",), record: Recorded | None = None,
                tables: dict[str, pd.DataFrame] | None = None,
                groups: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """assignments and staff tables (and moves, when rebalancing) in each format — XLSX as one
    workbook, plan.xlsx — then summary.json naming `record`, where the draw was recorded, into `folder`.
    `tables`, `groups`: the run's `output_tables` and `indicators`, when the caller has them."""
    from balancer.workbook import write_workbook

    tables = tables if tables is not None else output_tables(result)
    groups = groups if groups is not None else indicators(result, tables)
    summary = with_indicators(result.summary(record.to_dict() if record is not None else None), groups)
    return write_tables(folder, tables, summary, formats,
                        workbook=lambda shown, path: write_workbook(result, shown, summary, path))


def with_indicators(summary: dict, groups: dict[str, pd.DataFrame]) -> dict:
    """summary.json with `groups` (`balancer.indicators`: per office, specialisation and case
    type) as its `indicators`, right after its `metrics`."""
    out = {}
    for key, value in summary.items():
        out[key] = value
        if key == "metrics":
            out["indicators"] = records(groups)
    return out


def write_tables(folder: Path, tables: dict[str, pd.DataFrame], summary: dict, formats=("csv",),
                 workbook: Callable[[dict[str, pd.DataFrame], Path], None] | None = None) -> list[Path]:
    """Each table, `rounded` for reading, as NAME.FORMAT in each format (XLSX as `workbook(tables,
    path)` writes it, if given), then summary.json (last: it marks a whole run)."""
    tables = rounded(tables)
    written = _planned(tables, formats, folder, workbook is not None)
    for path in written[:-1]:
        if path.name == WORKBOOK and workbook is not None:
            atomic_write(path, lambda tmp: workbook(tables, tmp))
        else:
            write_table(tables[path.stem], path)
    write_json(summary, written[-1])
    return written


def _planned(tables: dict, formats, folder: Path = Path(), workbook: bool = False) -> list[Path]:
    names = []
    for fmt in dict.fromkeys(formats):
        if fmt == "xlsx" and workbook:
            names += [WORKBOOK] if tables else []
        else:
            names += [f"{name}.{fmt}" for name in tables]
    return [folder / n for n in [*names, "summary.json"]]


def _write_probabilities(result: Result, path: Path) -> None:
    from balancer.plan import probability_table

    write_table(probability_table(result.pool, result.design), path)  # what was drawn
