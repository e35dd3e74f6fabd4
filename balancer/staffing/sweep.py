"""What-if sweeps (`--sweep`): the staffing answer as one parameter moves, as a table and a chart."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.scenario import Scenario, apply_settings
from balancer.staffing.model import DEFAULT_TIME_LIMIT
from balancer.staffing.plan import finite, plan_staffing

MAX_SWEEP_STEPS = 200

_SWEEP = re.compile(r"^(intake|hours_per_fte|weight\.(?P<type>[^=]+))=(?P<a>[^:]+):(?P<b>[^:]+):(?P<step>[^:]+)$")
_SWEEP_FORM = "intake=A:B:STEP, weight.TYPE=A:B:STEP or hours_per_fte=A:B:STEP (e.g. intake=0.8:1.4:0.1)"


@dataclass(frozen=True)
class Sweep:
    parameter: str
    """intake, hours_per_fte or weight.TYPE"""
    values: tuple[float, ...]

    @property
    def type_id(self) -> str | None:
        return self.parameter.split(".", 1)[1] if self.parameter.startswith("weight.") else None


def parse_sweep(text: str, scenario: Scenario | None = None) -> Sweep:
    """`intake=0.8:1.4:0.1` → Sweep('intake', (0.8, 0.9, …, 1.4)); InputError for anything else."""
    m = _SWEEP.match(text.strip())
    if not m:
        raise InputError(f"--sweep {text!r} is not a sweep", field="sweep", expected=_SWEEP_FORM)
    try:
        a, b, step = (float(m[k]) for k in ("a", "b", "step"))
    except ValueError:
        raise InputError(f"--sweep {text!r}: A, B and STEP must be numbers", field="sweep",
                         expected=_SWEEP_FORM) from None
    if not all(map(math.isfinite, (a, b, step))) or step <= 0 or b < a:
        raise InputError(f"--sweep {text!r}: needs A ≤ B and STEP > 0", field="sweep", expected=_SWEEP_FORM)
    n = int(math.floor((b - a) / step + 1e-9)) + 1
    if n > MAX_SWEEP_STEPS:
        raise InputError(f"--sweep {text!r} has {n} steps", field="sweep",
                         expected=f"at most {MAX_SWEEP_STEPS} steps")
    parameter = m[1]
    if (a <= 0 if parameter != "intake" else a < 0):
        raise InputError(f"--sweep {text!r}: {parameter} must be positive", field="sweep",
                         expected="A > 0 (A ≥ 0 for intake)")
    if m["type"] is not None and scenario is not None:
        ids = [t.id for t in scenario.model.case_types]
        if m["type"] not in ids:
            raise InputError(f"--sweep {text!r}: no case type {m['type']!r}", field="sweep",
                             expected=f"weight.TYPE with TYPE one of {', '.join(ids)}")
    return Sweep(parameter, tuple(round(a + i * step, 10) for i in range(n)))


def _setting(parameter: str) -> str:
    if parameter == "intake":
        return "caseload.scale"
    if parameter == "hours_per_fte":
        return "model.hours_per_fte"
    return f"model.case_types.{parameter.split('.', 1)[1]}.weight_hours"


def with_value(scenario: Scenario, parameter: str, value: float) -> Scenario:
    """The scenario with filings scaled (intake: × value, relative to the file as written),
    hours_per_fte set, or one type's weight set; validated and recorded like any setting."""
    return apply_settings(scenario, {_setting(parameter): value})


def run_sweep(scenario: Scenario, sweep: Sweep, target: float = 0.85,
              hire_grades: list[str] | None = None, time_limit: float = DEFAULT_TIME_LIMIT) -> pd.DataFrame:
    """One row per value: formula need and gap, optimiser hires and posts, best max utilisation,
    and whether the hires are proven fewest."""
    rows = []
    for value in sweep.values:
        res = plan_staffing(with_value(scenario, sweep.parameter, value), target, hire_grades, time_limit)
        t = res.total()
        rows.append({"parameter": sweep.parameter, "value": value, "workload_hours": t["workload_hours"],
                     "fte_in_post": t["fte_in_post"], "formula_need_fte": t["formula_need_fte"],
                     "formula_gap_fte": t["formula_gap_fte"],
                     "hires": res.total_hires if res.feasible else None,
                     "optimiser_posts_fte": round(t["fte_in_post"] + res.total_hires, 4) if res.feasible else None,
                     "max_utilisation_before": finite(res.max_utilisation_before),
                     "max_utilisation_after": finite(res.max_utilisation_after),
                     "feasible": res.feasible, "hires_proven": res.hires_proven})
    return pd.DataFrame(rows)


def sweep_html(table: pd.DataFrame, title: str) -> str:
    """A self-contained HTML page with an inline SVG line chart of FTE against the swept value."""
    w, h, pad = 640, 360, 56
    x = table["value"].astype(float).to_numpy()
    series = [("formula need (FTE)", table["formula_need_fte"], "#1f77b4"),
              ("in post + optimiser hires (FTE)", table["optimiser_posts_fte"], "#d62728"),
              ("in post (FTE)", table["fte_in_post"], "#7f7f7f")]
    ys = np.concatenate([pd.to_numeric(s, errors="coerce").to_numpy(float) for _, s, _ in series])
    y_lo, y_hi = 0.0, float(np.nanmax(ys)) * 1.1 or 1.0
    x_lo, x_hi = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1
    px = lambda v: pad + (v - x_lo) / (x_hi - x_lo) * (w - 2 * pad)  # noqa: E731
    py = lambda v: h - pad - (v - y_lo) / (y_hi - y_lo) * (h - 2 * pad)  # noqa: E731
    parts = [f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>']
    for v in x:
        parts.append(f'<text x="{px(v):.1f}" y="{h - pad + 16}" font-size="10" text-anchor="middle">{v:g}</text>')
    for v in np.linspace(y_lo, y_hi, 5):
        parts.append(f'<text x="{pad - 6}" y="{py(v) + 3:.1f}" font-size="10" text-anchor="end">{v:.1f}</text>')
    for i, (label, s, colour) in enumerate(series):
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, pd.to_numeric(s, errors="coerce"))
                       if pd.notna(b))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{pad + 8}" y="{pad - 30 + 12 * i}" font-size="11" fill="{colour}">{label}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 12}" font-size="12" text-anchor="middle">'
                 f'{table["parameter"].iat[0]}</text>')
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">{"".join(parts)}</svg>'
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1>{svg}</body></html>\n")
