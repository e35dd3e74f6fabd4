"""Compute step of `balancer kpi`: the indicators per month for the service, each office,
prosecutor and case type (README, "Indicators from the case register").

Everything is vectorised over cases: counts are `np.bincount` over (group, month) keys; a case is
pending over a run of months, so pending counts and hours are a difference array summed along the
months; medians and 90th percentiles are read off one sort per dimension (linear interpolation
between the two nearest values, numpy's default: the median of 4, 6 is 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancer.kpi.load import UNSET, Register
from balancer.kpi.schema import KpiOptions

__all__ = ["DAYS_PER_YEAR", "DIMENSIONS", "Indicators", "compute", "group_quantiles"]

DAYS_PER_YEAR = 365
"""As `run`'s capacity: one month's standard is hours_per_fte × days in the month ÷ 365."""
DIMENSIONS = ("service", "office", "prosecutor", "type")
SERVICE = "all"
"""The one group of the `service` dimension."""
COLUMNS = ["dimension", "group", "month", "filings", "dispositions", "clearance_rate", "pending",
           "pending_age_median_days", "pending_age_p90_days", "disposition_days_median", "disposition_days_p90",
           "pending_hours", "fte", "pending_hours_per_fte", "standard_hours_per_fte", "pending_load",
           "filed_hours", "filed_hours_per_fte", "filed_load"]
TOTAL_COLUMNS = ["group", "fte", "filings", "dispositions", "clearance_rate", "disposition_days_median",
                 "disposition_days_p90", "pending", "pending_age_median_days", "pending_age_p90_days",
                 "pending_hours_per_fte", "pending_load"]
"""The period's totals: filings and dispositions summed over its months, clearance their ratio,
time to disposition over every case disposed in it, the pending figures at its last month's end."""


@dataclass
class Indicators:
    table: pd.DataFrame
    """One row per dimension, group and month; the columns of `COLUMNS`."""
    options: KpiOptions
    register: Register
    cases: int
    """Cases in the register."""
    totals: dict[str, pd.DataFrame]
    """Per dimension, one row per group over the whole period (`TOTAL_COLUMNS`)."""

    @property
    def months(self) -> list[str]:
        return self.options.months


def group_quantiles(key: np.ndarray, values: np.ndarray, size: int, qs=(0.5, 0.9)) -> np.ndarray:
    """size × len(qs): each quantile of `values` within each key 0..size-1 (NaN for an empty key),
    numpy's linear interpolation, from one sort."""
    out = np.full((size, len(qs)), np.nan)
    if key.size == 0:
        return out
    order = np.lexsort((values, key))
    k, v = key[order], values[order].astype(np.float64)
    counts = np.bincount(k, minlength=size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    for j, q in enumerate(qs):
        pos = starts[has] + q * (counts[has] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        out[has, j] = v[lo] + (pos - lo) * (v[hi] - v[lo])
    return out


def _months(days: np.ndarray) -> np.ndarray:
    """Month number (months since 1970-01) of day numbers; UNSET days stay far in the future."""
    unset = days >= UNSET
    months = days.clip(max=10**6).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return np.where(unset, UNSET, months)


def compute(reg: Register, options: KpiOptions) -> Indicators:
    months = options.months
    k = len(months)
    first = np.datetime64(options.start, "M").astype(np.int64)
    month_start = (np.datetime64(options.start, "M") + np.arange(k)).astype("datetime64[D]")
    month_end = (np.datetime64(options.start, "M") + np.arange(1, k + 1)).astype("datetime64[D]") - 1
    end_day = month_end.astype(np.int64)
    days_in = (month_end - month_start).astype(np.int64) + 1
    standard = reg.model.hours_per_fte * days_in / DAYS_PER_YEAR

    filed_m = _months(reg.filed) - first  # month index in the period (<0 before, >=k after)
    disposed_m = np.clip(_months(reg.disposed) - first, -1, k + 1)
    assigned_m = np.clip(_months(reg.assigned) - first, -1, k + 1)
    filed_m = np.clip(filed_m, -1, k + 1)
    no_date = reg.assigned >= UNSET

    staff = reg.staff
    staff_ids = list(staff["id"])
    strangers = sorted(set(reg.prosecutor.dropna().unique()) - set(staff_ids))
    prosecutors = staff_ids + strangers
    offices = sorted(set(reg.office.unique()) | set(staff["office"].dropna()))
    types = [t.id for t in reg.model.case_types]
    types += sorted(set(reg.type_name.unique()) - set(types))
    office_fte = staff.groupby("office")["fte"].sum() if staff["office"].notna().any() else pd.Series(dtype=float)
    fte = {
        "service": np.array([staff["fte"].sum()]),
        "office": np.array([office_fte.get(o, np.nan) if len(office_fte) else np.nan for o in offices]),
        "prosecutor": np.concatenate([staff["fte"].to_numpy(np.float64), np.full(len(strangers), np.nan)]),
        "type": np.full(len(types), np.nan),  # nobody's FTE is a type's: no caseload per FTE by type
    }
    names = {"service": [SERVICE], "office": offices, "prosecutor": prosecutors, "type": types}
    codes = {
        "service": np.zeros(len(reg.filed), np.int64),
        "office": pd.Index(offices).get_indexer(reg.office),
        "prosecutor": pd.Index(prosecutors).get_indexer(reg.prosecutor),  # -1: no prosecutor
        "type": pd.Index(types).get_indexer(reg.type_name),
    }
    in_period_filed = (filed_m >= 0) & (filed_m < k)
    in_period_disposed = (disposed_m >= 0) & (disposed_m < k)
    age_to_disposal = (reg.disposed - reg.filed).astype(np.float64)
    frames, totals = [], {}
    for dim in DIMENSIONS:
        g, size = codes[dim], len(names[dim])
        known = g >= 0
        # a prosecutor holds a case from its assignment (its filing when no date is given)
        start = np.maximum(filed_m, np.where(no_date, -1, assigned_m)) if dim == "prosecutor" else filed_m
        pending, pending_hours = _pending(g[known], start[known], disposed_m[known], reg.weight[known], size, k)
        f_sel = known & in_period_filed
        filings = np.bincount(g[f_sel] * k + filed_m[f_sel], minlength=size * k).reshape(size, k)
        filed_hours = np.bincount(g[f_sel] * k + filed_m[f_sel], weights=reg.weight[f_sel],
                                  minlength=size * k).reshape(size, k)
        d_sel = known & in_period_disposed
        key = g[d_sel] * k + disposed_m[d_sel]
        dispositions = np.bincount(key, minlength=size * k).reshape(size, k)
        ttd = group_quantiles(key, age_to_disposal[d_sel], size * k).reshape(size, k, 2)
        ages = np.full((size, k, 2), np.nan)
        for m in range(k):
            held = known & (start <= m) & (disposed_m > m)
            ages[:, m] = group_quantiles(g[held], end_day[m] - reg.filed[held], size)
        group_fte = fte[dim][:, None] * np.ones(k)
        with np.errstate(divide="ignore", invalid="ignore"):
            clearance = np.where(filings > 0, dispositions / np.maximum(filings, 1), np.nan)
            per_fte = np.where(group_fte > 0, pending_hours / group_fte, np.nan)
            filed_per_fte = np.where(group_fte > 0, filed_hours / group_fte, np.nan)
        frames.append(pd.DataFrame({
            "dimension": dim, "group": np.repeat(np.array(names[dim], dtype=object), k),
            "month": np.tile(np.array(months, dtype=object), size),
            "filings": filings.ravel(), "dispositions": dispositions.ravel(), "clearance_rate": clearance.ravel(),
            "pending": pending.ravel(), "pending_age_median_days": ages[..., 0].ravel(),
            "pending_age_p90_days": ages[..., 1].ravel(), "disposition_days_median": ttd[..., 0].ravel(),
            "disposition_days_p90": ttd[..., 1].ravel(), "pending_hours": pending_hours.ravel(),
            "fte": group_fte.ravel(), "pending_hours_per_fte": per_fte.ravel(),
            "standard_hours_per_fte": np.tile(standard, size), "pending_load": (per_fte / standard).ravel(),
            "filed_hours": filed_hours.ravel(), "filed_hours_per_fte": filed_per_fte.ravel(),
            "filed_load": (filed_per_fte / standard).ravel()}))
        whole = group_quantiles(g[d_sel], age_to_disposal[d_sel], size)
        f_all, d_all = filings.sum(axis=1), dispositions.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            totals[dim] = pd.DataFrame({
                "group": np.array(names[dim], dtype=object), "fte": fte[dim], "filings": f_all,
                "dispositions": d_all, "clearance_rate": np.where(f_all > 0, d_all / np.maximum(f_all, 1), np.nan),
                "disposition_days_median": whole[:, 0], "disposition_days_p90": whole[:, 1],
                "pending": pending[:, -1], "pending_age_median_days": ages[:, -1, 0],
                "pending_age_p90_days": ages[:, -1, 1], "pending_hours_per_fte": per_fte[:, -1],
                "pending_load": per_fte[:, -1] / standard[-1]})[TOTAL_COLUMNS]
    table = pd.concat(frames, ignore_index=True)[COLUMNS]
    return Indicators(table=table, options=options, register=reg, cases=len(reg.filed), totals=totals)


def _pending(g: np.ndarray, start: np.ndarray, stop: np.ndarray, weight: np.ndarray, size: int, k: int):
    """Cases and hours pending at each month's end: a case counts in months [start, stop) (clipped
    to the period), added as +1 at its first month and -1 after its last, then summed along."""
    s = np.clip(start, 0, k)
    e = np.clip(stop, 0, k)
    run = s < e
    width = k + 1
    up, down = g[run] * width + s[run], g[run] * width + e[run]
    count = np.bincount(up, minlength=size * width) - np.bincount(down, minlength=size * width)
    hours = (np.bincount(up, weights=weight[run], minlength=size * width)
             - np.bincount(down, weights=weight[run], minlength=size * width))
    count = np.cumsum(count.reshape(size, width), axis=1)[:, :k]
    hours = np.cumsum(hours.reshape(size, width), axis=1)[:, :k]
    return count, np.round(hours, 9)


DEFINITIONS = {
    "filings": "cases filed in the month",
    "dispositions": "cases disposed in the month",
    "clearance_rate": "dispositions / filings (none when there are no filings)",
    "pending": "cases with filed <= month end and (no disposal date or disposed > month end)",
    "pending_age_days": "month end - filed, over the pending cases: median and 90th percentile",
    "disposition_days": "disposed - filed, over the cases disposed in the month: median and 90th percentile",
    "pending_hours_per_fte": "sum of weight_hours of the group's pending cases at month end / the group's FTE",
    "standard_hours_per_fte": f"hours_per_fte x days in the month / {DAYS_PER_YEAR} (one FTE's case hours "
                              "in the month, as `run` counts capacity)",
    "pending_load": "pending_hours_per_fte / standard_hours_per_fte (months of work in hand per FTE)",
    "filed_load": "weight_hours of the month's filings per FTE / standard_hours_per_fte (new work against "
                  "the month's capacity)",
    "quantiles": "linear interpolation between the two nearest values (numpy's default)",
}
"""Each indicator's definition, once: summary.json and the report both print it."""
