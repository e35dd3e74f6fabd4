"""Write step: output files, each written to a temporary name and renamed, never left partial."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from balancer.pipeline import Result

if TYPE_CHECKING:
    from balancer.register import Recorded

FORMATS = ("csv", "parquet", "xlsx")


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


def write_table(df: pd.DataFrame, path: Path) -> None:
    fmt = path.suffix.lstrip(".")
    if fmt == "csv":
        atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
    elif fmt == "parquet":
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    elif fmt == "xlsx":
        atomic_write(path, lambda tmp: df.to_excel(tmp, index=False, engine="openpyxl"))
    else:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {FORMATS}")


def write_json(data: dict, path: Path) -> None:
    text = json.dumps(data, indent=2, default=str) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_outputs(result: Result, out_dir: str | Path, formats=("csv",), record: Recorded | None = None
                  ) -> list[Path]:
    """assignments and staff tables (and moves, when rebalancing) in each format, then summary.json
    (last: it marks a whole run), naming `record`, where the draw was recorded."""
    out = Path(out_dir)
    written = []
    if result.plan is not None:
        for fmt in dict.fromkeys(formats):
            tables = [("assignments", result.plan.assignments), ("staff", result.plan.staff)]
            if result.moves is not None:
                tables.append(("moves", result.moves))
            for name, table in tables:
                path = out / f"{name}.{fmt}"
                write_table(table, path)
                written.append(path)
    write_json(result.summary(record.to_dict() if record is not None else None), out / "summary.json")
    written.append(out / "summary.json")
    return written
