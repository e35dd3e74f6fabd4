"""The files `balancer staffing` writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from balancer.io import atomic_write, write_json, write_table
from balancer.staffing.plan import StaffingResult


def write_staffing(result: StaffingResult, out: Path, sweep: pd.DataFrame | None = None,
                   report: bool = True) -> list[Path]:
    """staffing.csv, sweep.csv (with a sweep), report.html (unless not `report`: a batch's
    variants leave it to the batch's own report), then summary.json (last)."""
    out = Path(out)
    write_table(result.table, out / "staffing.csv")
    written = [out / "staffing.csv"]
    if sweep is not None:
        write_table(sweep, out / "sweep.csv")
        written.append(out / "sweep.csv")
    if report:
        from balancer.staffing.report import staffing_html  # matplotlib only when a report is written

        html = staffing_html(result, sweep)
        atomic_write(out / "report.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
        written.append(out / "report.html")
    write_json(result.summary(), out / "summary.json")
    return written + [out / "summary.json"]
