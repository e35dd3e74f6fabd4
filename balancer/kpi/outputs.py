"""Write step of `balancer kpi`: kpi.csv, totals.csv, warnings.csv, report.html and summary.json
(last), into the folder `balancer.io.write_folder` renames into place whole."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from balancer.io import atomic_write, write_json, write_table
from balancer.kpi.compute import DEFINITIONS, Indicators
from balancer.pipeline import package_version

__all__ = ["DEFINITIONS", "summary", "write_kpi"]



def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def summary(found: Indicators) -> dict:
    reg, options = found.register, found.options
    service = _records(found.totals["service"])[0]
    service.pop("group")
    return {
        "period": {"start": str(options.start), "end": str(options.end), "months": options.months},
        "cases": found.cases,
        "model": reg.model.name,
        "hours_per_fte": reg.model.hours_per_fte,
        "prosecutors": len(reg.staff),
        "inputs": reg.inputs,
        "service": service,
        "offices": _records(found.totals["office"]),
        "types": _records(found.totals["type"]),
        "warnings": reg.warnings,
        "options": options.model_dump(mode="json"),
        "definitions": DEFINITIONS,
        "kpi_csv": ("one row per dimension (service, office, prosecutor, type), group and month; the "
                    "indicators as columns"),
        "version": package_version(),
    }


def write_kpi(found: Indicators, out: Path) -> list[Path]:
    """kpi.csv, totals.csv (the period's totals per dimension and group), warnings.csv,
    report.html, and summary.json last."""
    from balancer.kpi.report import report_html  # matplotlib only when a report is written

    out = Path(out)
    totals = pd.concat([t.assign(dimension=dim) for dim, t in found.totals.items()], ignore_index=True)
    totals = totals[["dimension", *[c for c in totals.columns if c != "dimension"]]]
    write_table(found.table.round(6), out / "kpi.csv")  # six decimals: no float noise (44.400000000000006)
    write_table(totals.round(6), out / "totals.csv")
    write_table(pd.DataFrame(found.register.warnings, columns=["kind", "subject", "message"]), out / "warnings.csv")
    text = report_html(found)
    atomic_write(out / "report.html", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    write_json(summary(found), out / "summary.json")
    return [out / n for n in ("kpi.csv", "totals.csv", "warnings.csv", "report.html", "summary.json")]
