"""Write step of `balancer measure`: the workload model YAML (what `run` and `staffing` read, as it
is), the tables and `summary.json`, into one folder written whole (`balancer.io.write_folder`)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import yaml

from balancer.io import atomic_write, write_json, write_table
from balancer.measure.compute import Measured
from balancer.measure.load import StudyData
from balancer.pipeline import package_version

__all__ = ["model_document", "write_measure"]

MODEL_FILE = "model.yaml"


def _num(x: float, digits: int = 4) -> float:
    return float(round(float(x), digits))


def model_document(data: StudyData, found: Measured) -> dict:
    """The workload model as a mapping (`WorkloadModel`'s fields only, so that it loads as it is)."""
    study = data.study
    year = found.year
    kept = found.types[found.types["in_model"]]
    meta = {t.id: t for t in study.case_types}
    conf = f"{study.bootstrap.confidence:.0%}"
    case_types = []
    for r in kept.itertuples():
        t = meta[r.type]
        if math.isfinite(r.weight_hours):
            measured = (f"Measured {r.weight_hours:,.3f} h per case ({conf} interval {r.ci_low_hours:,.3f}–"
                        f"{r.ci_high_hours:,.3f} h; {r.cases:,.0f} cases, {r.hours:,.1f} h logged by "
                        f"{r.prosecutors} prosecutors, {study.period.start} to {study.period.end}).")
        else:
            measured = "Not measured by the study (no cases or no time)."
        adjusted = f" Adjusted: {r.adjustments}." if r.adjustments else ""
        entry: dict = {"id": r.type, "weight_hours": _num(r.adjusted_weight_hours)}
        if t.specialisation is not None:
            entry["specialisation"] = t.specialisation
        if t.min_grade is not None:
            entry["min_grade"] = t.min_grade
        own = t.description.strip().rstrip(".") + "." if t.description else None
        entry["description"] = " ".join(filter(None, [own, measured + adjusted]))
        case_types.append(entry)
    description = (f"{study.description.strip() + ' ' if study.description else ''}Measured by `balancer measure` "
                   f"from the time study {study.name!r} ({found.records:,} time records, {study.period.start} to "
                   f"{study.period.end}): weight = minutes logged to the type in the period ÷ cases of the type "
                   f"in the period; year value = {year['formula']} (non-case share {year['non_case_share_source']}).")
    sources = [*study.sources,
               f"Time study {study.name!r}: {', '.join(f'{name} (sha256 {digest[:12]})' for name, digest in data.inputs.items())}; "
               f"balancer {package_version()}."]
    if found.adjustments is not None:
        for (rnd, method, file), rows in found.adjustments.groupby(["round", "method", "file"], sort=False):
            sources.append(f"Adjustment round {rnd!r} ({method}, {file}): " + "; ".join(
                f"{r.type} {r.weight_before_hours:,.3f} → {r.weight_after_hours:,.3f} h, agreed by {r.agreed_by}"
                for r in rows.itertuples()))
    doc: dict = {"name": study.model_name or study.name, "description": description,
                 "hours_per_fte": _num(year["hours_per_fte"], 2)}
    if study.grades:
        doc["grades"] = list(study.grades)
    doc["sources"] = sources
    doc["case_types"] = case_types
    return doc


def model_yaml(data: StudyData, found: Measured) -> str:
    head = (f"# Workload model measured by `balancer measure` from {data.path.name}.\n"
            f"# Each weight_hours: minutes logged to the type in the study period / cases of the type in the\n"
            f"# period / 60, then the adjustment rounds (see each type's description and the sources).\n")
    return head + yaml.safe_dump(model_document(data, found), sort_keys=False, allow_unicode=True, width=100)


def summary(data: StudyData, found: Measured, compare: dict | None) -> dict:
    study = data.study
    return {
        "study": study.name,
        "model": study.model_name or study.name,
        "period": {"start": str(study.period.start), "end": str(study.period.end), "days": study.period.days},
        "records": found.records,
        "prosecutors": len(data.staff),
        "inputs": data.inputs,
        "year": found.year,
        "bootstrap": found.bootstrap,
        "weights": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                     for k, v in r.items()} for r in found.types.to_dict("records")],
        "warnings": found.warnings,
        "compare": compare,
        "method": ("weight = minutes logged to the type in the study period / cases of the type in the period "
                   "(/60 for hours); interval: percentile bootstrap over prosecutors (within offices when "
                   "known); year value = working days × hours per day × (1 − non-case share)"),
        "version": package_version(),
    }


def write_measure(data: StudyData, found: Measured, out: Path, compare: tuple[pd.DataFrame, dict] | None = None) -> list[Path]:
    """model.yaml, weights.csv, prosecutors.csv, warnings.csv, and where there are any
    adjustments.csv, unknown_types.csv, activities.csv, compare.csv; summary.json last."""
    out = Path(out)
    text = model_yaml(data, found)
    atomic_write(out / MODEL_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    tables = {"weights": found.types, "prosecutors": found.prosecutors,
              "warnings": pd.DataFrame(found.warnings, columns=["kind", "subject", "message"]),
              "adjustments": found.adjustments, "unknown_types": found.unknown, "activities": found.activities,
              "compare": compare[0] if compare is not None else None}
    written = [out / MODEL_FILE]
    for name, table in tables.items():
        if table is not None:
            write_table(table, out / f"{name}.csv")
            written.append(out / f"{name}.csv")
    write_json(summary(data, found, compare[1] if compare is not None else None), out / "summary.json")
    return written + [out / "summary.json"]
