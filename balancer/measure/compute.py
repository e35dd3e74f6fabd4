"""Compute step of `balancer measure`: case weights, their bootstrap intervals, the year value, the
adjustment rounds and the warnings, from a loaded study.

What a weight means. For case type t,

    weight_t = minutes logged to t in the study period ÷ cases of t in the period   (÷ 60: hours)

(NCSC/APRI time studies). It is the work the office spends per case of t *arriving* in a period,
not the work one case takes from its start to its end: in a steady office, where the cases in hand
are as many and as far along at the end of the period as at its start, the two are the same; in a
growing or shrinking one they are not, and the adjustment round is where that is corrected.

The interval: prosecutors are resampled with replacement (within their office when offices are
known, so that each office keeps its weight; n − 1 draws of n, each weighing n / (n − 1), the
Rao–Wu rescaling that keeps the bootstrap variance unbiased for few prosecutors), each
replicate's weights recomputed, and the percentile interval taken. With case counts per prosecutor each replicate's weight is the
ratio of the drawn prosecutors' minutes to their cases; with office totals only, the drawn minutes
over the period's fixed counts. One replicate is two matrix products (draw counts × per-prosecutor
sums), so 2,000 replicates over 2,000 prosecutors take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.measure.load import StudyData
from balancer.measure.schema import Adjustments
from balancer.scenario import bounds

__all__ = ["Measured", "bootstrap_weights", "draw_counts", "longest_gaps", "measure"]


@dataclass
class Measured:
    """What `measure` found: per-type and per-prosecutor tables, the year value and warnings."""

    name: str
    types: pd.DataFrame
    """Per case type: cases, prosecutors, minutes, hours, weight (measured, then adjusted), interval."""
    prosecutors: pd.DataFrame
    """Per prosecutor: office, fte, minutes logged (case, non-case, unknown), expected, longest gap."""
    year: dict
    """The year value and its derivation."""
    warnings: list[dict] = field(default_factory=list)
    """Each: kind, subject, message."""
    adjustments: pd.DataFrame | None = None
    """Every adjustment applied, in order, with the weight before and after."""
    unknown: pd.DataFrame | None = None
    """Time logged to types that are neither a case type nor a non-case activity."""
    activities: pd.DataFrame | None = None
    """Minutes per (type, activity), when records name their activity."""
    records: int = 0
    bootstrap: dict = field(default_factory=dict)

    def warn(self, kind: str, subject: str, message: str) -> None:
        self.warnings.append({"kind": kind, "subject": subject, "message": message})


def draw_counts(groups: list[np.ndarray], people: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """replicates × people: the weight of each person in each replicate. Within each group (an
    office) of n people, n − 1 are drawn with replacement and each draw weighs n / (n − 1) (the
    Rao–Wu rescaled bootstrap: drawing n would understate the variance by the factor (n − 1) / n,
    which at 15 prosecutors an office is 7 %; a group of one keeps its one person)."""
    flat = np.zeros(replicates * people, dtype=np.float64)
    base = (np.arange(replicates) * people)[:, None]
    for members in groups:
        n = members.size
        m = max(n - 1, 1)
        picks = members[rng.integers(0, n, size=(replicates, m))]
        flat += np.bincount((base + picks).ravel(), minlength=replicates * people) * (n / m)
    return flat.reshape(replicates, people)


def bootstrap_weights(minutes: np.ndarray, cases: np.ndarray, groups: list[np.ndarray], replicates: int,
                      confidence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval (low, high) of minutes per case for each type.

    `minutes`: people × types; `cases`: people × types (ratio of sums) or types (fixed counts)."""
    draws = draw_counts(groups, minutes.shape[0], replicates, np.random.default_rng(seed))
    drawn = draws @ minutes
    denominator = draws @ cases if cases.ndim == 2 else np.broadcast_to(cases, drawn.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(denominator > 0, drawn / np.where(denominator > 0, denominator, 1), np.nan)
    tail = (1 - confidence) / 2 * 100
    usable = ~np.isnan(w).all(axis=0)
    lo, hi = np.full(w.shape[1], np.nan), np.full(w.shape[1], np.nan)
    if usable.any():
        lo[usable], hi[usable] = np.nanpercentile(w[:, usable], [tail, 100 - tail], axis=0)
    return lo, hi


def longest_gaps(logged: np.ndarray) -> np.ndarray:
    """Per row of a people × days boolean matrix: the longest run of False."""
    out = np.zeros(logged.shape[0], dtype=np.int64)
    for i, row in enumerate(logged):
        missing = np.r_[False, ~row, False].astype(np.int8)
        edges = np.flatnonzero(np.diff(missing))
        if edges.size:
            out[i] = int((edges[1::2] - edges[::2]).max())
    return out


def measure(data: StudyData, rounds: list[tuple[Adjustments, str]] = ()) -> Measured:
    """Weights, intervals, year value and warnings of a loaded study; `rounds`: adjustment files
    (with their names, for the record) applied in order on top of the measured weights."""
    study, staff = data.study, data.staff
    ids = data.type_ids
    n_types, n_staff = len(ids), len(staff)
    names = pd.Index(ids + list(study.non_case))
    code = names.get_indexer(data.type_name)
    is_case = (code >= 0) & (code < n_types)
    is_non_case = code >= n_types
    unknown = code < 0
    out = Measured(name=study.name, types=pd.DataFrame(), prosecutors=pd.DataFrame(), year={},
                   records=int(code.size))

    # per-prosecutor, per-type sums: one bincount over the records
    p, t, m = data.prosecutor[is_case], code[is_case], data.minutes[is_case]
    minutes = np.bincount(p * n_types + t, weights=m, minlength=n_staff * n_types).reshape(n_staff, n_types)
    touched = np.bincount(p * n_types + t, minlength=n_staff * n_types).reshape(n_staff, n_types) > 0
    non_case = np.bincount(data.prosecutor[is_non_case], weights=data.minutes[is_non_case], minlength=n_staff)
    lost = np.bincount(data.prosecutor[unknown], weights=data.minutes[unknown], minlength=n_staff)

    counts = data.counts
    total = minutes.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight_min = np.where(counts > 0, total / np.where(counts > 0, counts, 1), np.nan)

    offices = staff["office"].to_numpy(dtype=object)
    if pd.notna(offices).all() and offices.size:
        labels = pd.factorize(offices)[0]
        groups = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
        resampling = "prosecutors within offices"
    else:
        groups = [np.arange(n_staff)]
        resampling = "prosecutors"
    boot = study.bootstrap
    cases_arg = data.counts_by_prosecutor if data.counts_by_prosecutor is not None else counts
    lo, hi = bootstrap_weights(minutes, cases_arg, groups, boot.replicates, boot.confidence, boot.seed)
    out.bootstrap = {"replicates": boot.replicates, "confidence": boot.confidence, "seed": boot.seed,
                     "resampled": resampling, "offices": len(groups),
                     "estimator": ("ratio of the drawn prosecutors' minutes to their cases"
                                   if data.counts_by_prosecutor is not None
                                   else "the drawn prosecutors' minutes over the period's case counts")}

    case_minutes = float(total.sum())
    types = pd.DataFrame({
        "type": ids,
        "cases": counts,
        "prosecutors": touched.sum(axis=0),
        "records": np.bincount(t, minlength=n_types),
        "hours": total / 60,
        "share_of_case_time": total / case_minutes if case_minutes > 0 else np.zeros(n_types),
        "weight_minutes": weight_min,
        "weight_hours": weight_min / 60,
        "ci_low_hours": lo / 60,
        "ci_high_hours": hi / 60,
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        types["relative_width"] = (types["ci_high_hours"] - types["ci_low_hours"]) / types["weight_hours"]
    if data.case_id is not None:
        logged = pd.DataFrame({"t": t, "case": data.case_id[is_case].to_numpy(dtype=object)}).dropna()
        types["case_ids_logged"] = logged.groupby("t")["case"].nunique().reindex(range(n_types), fill_value=0).to_numpy()

    out.year = _year(study, non_case.sum(), case_minutes, out)
    _thin_evidence(types, study, out)
    out.types = _adjust(types, rounds, out)
    out.prosecutors = _prosecutors(data, minutes, non_case, lost, out)
    if unknown.any():
        lost_rows = pd.DataFrame({"type": data.type_name[unknown].to_numpy(dtype=object),
                                  "minutes": data.minutes[unknown]})
        out.unknown = (lost_rows.groupby("type", sort=True)["minutes"].agg(["size", "sum"])
                       .rename(columns={"size": "records", "sum": "minutes"}).reset_index())
        out.unknown["hours"] = out.unknown["minutes"] / 60
        share = float(lost_rows["minutes"].sum()) / max(float(data.minutes.sum()), 1e-12)
        listed = ", ".join(f"{r.type!r} ({r.hours:,.1f} h)" for r in out.unknown.head(5).itertuples())
        out.warn("unknown-type", ", ".join(out.unknown["type"].head(5)),
                 f"{int(unknown.sum()):,} records ({share:.2%} of all time logged) name a type that is neither a case "
                 f"type nor a non-case activity of the study: {listed}"
                 f"{' …' if len(out.unknown) > 5 else ''}; their time counts towards no weight")
    if data.activity is not None:
        acts = pd.DataFrame({"type": data.type_name.to_numpy(dtype=object),
                             "activity": data.activity.to_numpy(dtype=object, na_value="(none)"),
                             "minutes": data.minutes})
        out.activities = acts.groupby(["type", "activity"], sort=True)["minutes"].sum().reset_index()
        out.activities["hours"] = out.activities["minutes"] / 60
    return out


def _year(study, non_case_minutes: float, case_minutes: float, out: Measured) -> dict:
    y = study.year
    measured = non_case_minutes / (non_case_minutes + case_minutes) if non_case_minutes + case_minutes > 0 else 0.0
    share = y.non_case_share if y.non_case_share is not None else measured
    if y.non_case_share is None and non_case_minutes == 0:
        out.warn("no-non-case-time", "year", "no time was logged to a non-case activity, so the non-case share is "
                 "measured as 0 and the year value counts every working hour as case time; list the study's "
                 "non-case activities under `non_case`, or give `year.non_case_share`")
    hours = y.working_days * y.hours_per_day * (1 - share)
    return {
        "hours_per_fte": hours,
        "working_days": y.working_days,
        "hours_per_day": y.hours_per_day,
        "non_case_share": share,
        "non_case_share_source": "given" if y.non_case_share is not None else "measured",
        "non_case_share_measured": measured,
        "non_case_hours_logged": non_case_minutes / 60,
        "case_hours_logged": case_minutes / 60,
        "formula": (f"{y.working_days:g} working days × {y.hours_per_day:g} hours per day × "
                    f"(1 − {share:.4f} non-case share) = {hours:,.1f} case hours per full-time prosecutor-year"),
    }


def _thin_evidence(types: pd.DataFrame, study, out: Measured) -> None:
    th = study.thresholds
    for r in types.itertuples():
        if r.cases == 0:
            out.warn("no-cases", r.type, f"{r.type}: no cases counted in the period, so no weight can be measured "
                     f"({r.hours:,.1f} h logged); give it `hours` in an adjustment round to keep it in the model")
            continue
        if r.hours == 0:
            out.warn("no-time", r.type, f"{r.type}: {r.cases:,.0f} cases but no time logged to it, so no weight "
                     "can be measured; give it `hours` in an adjustment round to keep it in the model")
            continue
        if r.cases < th.min_cases:
            out.warn("few-cases", r.type, f"{r.type}: only {r.cases:,.0f} cases in the period (fewer than "
                     f"{th.min_cases}); its weight rests on little evidence")
        if r.prosecutors < th.min_prosecutors:
            out.warn("few-prosecutors", r.type, f"{r.type}: only {r.prosecutors} prosecutor(s) logged time to it "
                     f"(fewer than {th.min_prosecutors}); its weight is theirs, not the office's")
        if not np.isfinite(r.relative_width) or r.relative_width > th.max_relative_width:
            out.warn("wide-interval", r.type,
                     f"{r.type}: the {study.bootstrap.confidence:.0%} interval {r.ci_low_hours:,.2f}–"
                     f"{r.ci_high_hours:,.2f} h is {r.relative_width:.0%} of the weight {r.weight_hours:,.2f} h "
                     f"(more than {th.max_relative_width:.0%})")


def _adjust(types: pd.DataFrame, rounds, out: Measured) -> pd.DataFrame:
    weight = dict(zip(types["type"], types["weight_hours"]))
    trail: dict[str, list[str]] = {t: [] for t in weight}
    rows = []
    for adjustments, source in rounds:
        for a in adjustments.adjustments:
            before = weight[a.type]
            if a.factor is not None:
                if not np.isfinite(before):
                    raise InputError(f"type {a.type!r} has no measured weight to multiply (no cases or no time "
                                     "in the study)", file=source, field="adjustments.factor",
                                     expected=f"`hours:` for {a.type!r} instead of a factor")
                after, change = before * a.factor, f"×{a.factor:g}"
            else:
                after, change = a.hours, f"set to {a.hours:g} h"
            weight[a.type] = after
            who = ", ".join(a.agreed_by)
            trail[a.type].append(f"{adjustments.round}: {change} (agreed by {who}: {a.rationale.strip()})")
            rows.append({"round": adjustments.round, "method": adjustments.method, "file": source, "type": a.type,
                         "factor": a.factor, "hours": a.hours, "weight_before_hours": before,
                         "weight_after_hours": after, "rationale": a.rationale.strip(), "agreed_by": who})
    types = types.copy()
    types["adjusted_weight_hours"] = types["type"].map(weight)
    types["adjustments"] = types["type"].map(lambda t: "; ".join(trail[t]))
    lo_ok = types["adjusted_weight_hours"] >= bounds.WEIGHT_HOURS[0]
    hi_ok = types["adjusted_weight_hours"] <= bounds.WEIGHT_HOURS[1]
    types["in_model"] = (lo_ok & hi_ok).fillna(False).astype(bool)
    for r in types[~types["in_model"]].itertuples():
        out.warn("left-out", r.type, f"{r.type}: left out of the model (its weight "
                 f"{'cannot be measured' if not np.isfinite(r.adjusted_weight_hours) else f'{r.adjusted_weight_hours:g} h is out of range'}); "
                 "scenarios that use it need it back")
    if rows:
        out.adjustments = pd.DataFrame(rows)
    return types


def _prosecutors(data: StudyData, minutes: np.ndarray, non_case: np.ndarray, lost: np.ndarray,
                 out: Measured) -> pd.DataFrame:
    study, staff = data.study, data.staff
    start = np.datetime64(study.period.start, "D")
    days = start + np.arange(study.period.days)
    working = np.is_busday(days)
    logged = np.zeros((len(staff), study.period.days), dtype=bool)
    logged[data.prosecutor, data.day] = True
    gaps = longest_gaps(logged[:, working])
    n_working = int(working.sum())
    expected = staff["fte"].to_numpy() * n_working * study.year.hours_per_day * 60
    total = minutes.sum(axis=1) + non_case + lost
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(expected > 0, total / np.where(expected > 0, expected, 1), np.nan)
    table = pd.DataFrame({
        "prosecutor": staff["id"], "office": staff["office"], "fte": staff["fte"],
        "case_hours": minutes.sum(axis=1) / 60, "non_case_hours": non_case / 60, "unknown_hours": lost / 60,
        "expected_hours": expected / 60, "logged_share": share,
        "working_days_logged": logged[:, working].sum(axis=1), "working_days": n_working,
        "longest_gap_days": gaps,
    })
    th = study.thresholds
    active = table["fte"] > 0
    for r in table[active & (table["longest_gap_days"] > th.max_gap_days)].itertuples():
        out.warn("logging-gap", r.prosecutor, f"prosecutor {r.prosecutor}: {r.longest_gap_days} working days in a "
                 f"row without a record (more than {th.max_gap_days}); time away belongs in a non-case activity")
    for r in table[active & (table["logged_share"] < th.min_logged_share)].itertuples():
        out.warn("logged-too-little", r.prosecutor, f"prosecutor {r.prosecutor}: logged {r.logged_share:.0%} of "
                 f"the {r.expected_hours:,.0f} h expected of fte {r.fte:g} (less than {th.min_logged_share:.0%})")
    return table
