"""`balancer measure --compare OLD.yaml`: per case type, the old weight, the new one, and what the
change does to the FTE need, computed by the existing staffing model (`balancer.staffing`) on a
staffing scenario made of the study's staff and its caseload a year (the period's cases × 365 ÷ the
period's days), once with each model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from balancer.measure.compute import Measured
from balancer.measure.load import StudyData
from balancer.measure.outputs import model_yaml
from balancer.scenario import WorkloadModel, load_model, load_scenario
from balancer.scenario.capacity import DAYS_PER_YEAR
from balancer.staffing import plan_staffing
from balancer.staffing.inputs import demand

__all__ = ["compare"]


def _scenario_text(data: StudyData, model_path: Path, model: WorkloadModel) -> str:
    days = data.study.period.days
    known = {t.id for t in model.case_types}
    caseload = [{"type": t, "filings": float(n) * DAYS_PER_YEAR / days}
                for t, n in zip(data.type_ids, data.counts) if t in known and n > 0]
    def given(value) -> bool:
        return value is not None and pd.notna(value)

    # a grade the model does not know would make the scenario invalid: then the grade is left out
    staff = [{"id": str(r.id), "fte": float(r.fte),
              **{k: str(getattr(r, k)) for k in ("office", "specialisations") if given(getattr(r, k))},
              **({"grade": str(r.grade)} if given(r.grade) and r.grade in model.grades else {})}
             for r in data.staff.itertuples()]
    doc = {"name": f"{data.study.name}-compare", "model": str(model_path), "staff": staff,
           "caseload": caseload or [{"type": model.case_types[0].id, "filings": 0.0}]}
    return yaml.safe_dump(doc, sort_keys=False)


def _need(data: StudyData, model_path: Path, model: WorkloadModel, folder: Path, name: str, target: float):
    path = folder / f"{name}.yaml"
    path.write_text(_scenario_text(data, model_path, model), encoding="utf-8")
    sc = load_scenario(path)
    d = demand(sc)
    per_type = (d.groupby("type")["hours"].sum() / sc.model.hours_per_fte) if len(d) else pd.Series(dtype=float)
    result = plan_staffing(sc, target=target)
    return per_type, result.summary()


def compare(data: StudyData, found: Measured, old: Path, target: float = 0.85) -> tuple[pd.DataFrame, dict]:
    """(per-type table, totals) of the old model against the measured one."""
    old_model = load_model(old)
    with tempfile.TemporaryDirectory(prefix="balancer-compare-") as tmp:
        folder = Path(tmp)
        new_path = folder / "measured-model.yaml"
        new_path.write_text(model_yaml(data, found), encoding="utf-8")
        new_model = load_model(new_path)
        old_fte, old_sum = _need(data, Path(old).resolve(), old_model, folder, "old", target)
        new_fte, new_sum = _need(data, new_path, new_model, folder, "new", target)
    old_w = {t.id: t.weight_hours for t in old_model.case_types}
    new_w = {t.id: t.weight_hours for t in new_model.case_types}
    filings = dict(zip(data.type_ids, data.counts * DAYS_PER_YEAR / data.study.period.days))
    rows = []
    for t in list(new_w) + [t for t in old_w if t not in new_w]:
        o, n = old_w.get(t, np.nan), new_w.get(t, np.nan)
        fo, fn = float(old_fte.get(t, 0.0)), float(new_fte.get(t, 0.0))
        rows.append({"type": t, "filings_per_year": filings.get(t, np.nan), "old_weight_hours": o,
                     "new_weight_hours": n, "change_hours": n - o, "change_share": (n - o) / o,
                     "old_fte_need": fo, "new_fte_need": fn, "change_fte_need": fn - fo,
                     "note": ("only in the old model" if t not in new_w else
                              "only in the measured model" if t not in old_w else "")})
    keys = ("workload_hours", "fte_in_post", "formula_need_fte", "formula_gap_fte", "hires")
    totals = {"old_model": str(old), "old_hours_per_fte": old_model.hours_per_fte,
              "new_hours_per_fte": new_model.hours_per_fte, "target_utilisation": target,
              "old": {k: old_sum[k] for k in keys}, "new": {k: new_sum[k] for k in keys},
              "caseload": "the study period's cases × 365 / the period's days, for the study's staff"}
    totals["change_formula_need_fte"] = new_sum["formula_need_fte"] - old_sum["formula_need_fte"]
    return pd.DataFrame(rows), totals
