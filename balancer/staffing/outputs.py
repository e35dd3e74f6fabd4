"""The files `balancer staffing` writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from balancer.io import atomic_write, write_json, write_table
from balancer.staffing.plan import StaffingResult
from balancer.staffing.sweep import sweep_html


def write_staffing(result: StaffingResult, out: Path, sweep: pd.DataFrame | None = None) -> list[Path]:
    """staffing.csv, sweep.csv and sweep.html (with a sweep), then summary.json (last)."""
    out = Path(out)
    write_table(result.table, out / "staffing.csv")
    written = [out / "staffing.csv"]
    if sweep is not None:
        write_table(sweep, out / "sweep.csv")
        html = sweep_html(sweep, f"{result.scenario}: FTE against {sweep['parameter'].iat[0]}")
        atomic_write(out / "sweep.html", lambda tmp: tmp.write_text(html, encoding="utf-8"))
        written += [out / "sweep.csv", out / "sweep.html"]
    write_json(result.summary(), out / "summary.json")
    return written + [out / "summary.json"]
