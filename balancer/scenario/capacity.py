"""Hours each prosecutor has in the scenario's period: what the compile step allocates against, and
one of the things a draw depends on (`balancer.scenario.canonical`). Here, not in `balancer.problem`,
because it is read from the scenario alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from balancer.scenario.schema import Scenario

DAYS_PER_YEAR = 365


def staff_capacity(scenario: Scenario) -> np.ndarray:
    """Hours each prosecutor has in the period, with unavailability prorated.

    `capacity_hours` is taken as given for the period; `fte` is prorated from the model's year
    value (`hours_per_fte`) by the period's length in days.
    """
    staff = scenario.staff
    period = scenario.period
    share_of_year = period.days / DAYS_PER_YEAR if period is not None else 1.0
    from_fte = staff["fte"].to_numpy(np.float64) * scenario.model.hours_per_fte * share_of_year
    capacity = np.where(staff["capacity_hours"].notna(), staff["capacity_hours"], from_fte)
    capacity = capacity.astype(np.float64)
    if period is not None:
        away = staff["unavailable"].map(len).to_numpy() > 0
        for p in np.flatnonzero(away):
            capacity[p] *= 1.0 - _days_away(staff["unavailable"].iat[p], period) / period.days
    return capacity


def _days_away(spans, period) -> int:
    """Days of the period covered by the union of the (from, to) spans, both ends included."""
    days = np.zeros(period.days, dtype=bool)
    for start, end in spans:
        lo = max((start - period.start).days, 0)
        hi = min((end - period.start).days, period.days - 1)
        if lo <= hi:
            days[lo : hi + 1] = True
    return int(days.sum())
