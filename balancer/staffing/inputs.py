"""What the staffing models work on: demand rows, groups of staff in post, hire profiles."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.problem import DAYS_PER_YEAR, staff_capacity, type_eligibility
from balancer.scenario import Scenario

ANY = "any"
"""Specialisation label of case types anyone may take (and of hires without a specialisation)."""
ALL = "all"
"""Label of total rows (all specialisations of an office, all offices)."""


def period_share(scenario: Scenario) -> float:
    """Share of a year the scenario's period covers (1 without a period), as `staff_capacity` uses."""
    return scenario.period.days / DAYS_PER_YEAR if scenario.period is not None else 1.0


def specialisation_of(t) -> str:
    return t.specialisation if t.specialisation is not None else ANY


def _office(column: pd.Series) -> pd.Series:
    """Offices as objects with None for none (NaN would never equal another office)."""
    return column.astype(object).where(column.notna(), None)


def demand(scenario: Scenario) -> pd.DataFrame:
    """One row per (type, office): filings and workload hours; office None = any office."""
    load = scenario.caseload
    types = {t.id: t for t in scenario.model.case_types}
    load = load.assign(office=_office(load["office"]))
    rows = (load.groupby(["type", "office"], dropna=False, sort=False)["filings"].sum().reset_index())
    rows["office"] = _office(rows["office"])
    rows["t"] = rows["type"].map({t: i for i, t in enumerate(types)}).astype(int)
    rows["specialisation"] = rows["type"].map(lambda t: specialisation_of(types[t]))
    rows["hours"] = rows["filings"] * rows["type"].map(lambda t: types[t].weight_hours)
    return rows[rows["hours"] > 0].reset_index(drop=True)


def groups(scenario: Scenario, target: float, by_load: bool = False) -> pd.DataFrame:
    """Staff with time in the period, merged where merging changes no answer.

    For the hires model, staff of one office with the same eligibility are one receiver of their
    summed spare time (a fluid assignment can split work among them at will). For the
    highest-utilisation LP (`by_load`) they must also start at the same utilisation."""
    cap = staff_capacity(scenario)
    elig = type_eligibility(scenario, cap)
    staff = scenario.staff
    keep = cap > 0
    load0 = staff["current_load_hours"].to_numpy(float)
    df = pd.DataFrame({
        "office": _office(staff["office"]),
        "elig": [elig[:, p].tobytes() for p in range(len(staff))],
        "ratio": np.round(load0 / np.where(keep, cap, 1), 9) if by_load else 0.0,
        "capacity": cap, "load0": load0, "spare": np.maximum(0.0, target * cap - load0),
        "id": staff["id"].astype(str),
    })[keep]
    g = df.groupby(["office", "elig", "ratio"], dropna=False, sort=False).agg(
        capacity=("capacity", "sum"), load0=("load0", "sum"), spare=("spare", "sum"),
        members=("id", "size")).reset_index()
    g["office"] = _office(g["office"])
    g["eligible"] = [np.frombuffer(b, dtype=bool) for b in g["elig"]]
    return g.drop(columns=["elig", "ratio"])


def offices(scenario: Scenario) -> list:
    found = set(scenario.staff["office"].dropna()) | set(scenario.caseload["office"].dropna())
    return sorted(found) or [None]


def profiles(scenario: Scenario, grades: list[str] | None) -> pd.DataFrame:
    """Hire profiles (specialisation × grade × office) that take distinct work; lowest grade kept."""
    model = scenario.model
    specs = [None] + sorted({t.specialisation for t in model.case_types if t.specialisation is not None})
    ladder = model.grades or [None]
    unknown = [g for g in grades or [] if g not in ladder]
    if unknown:
        raise InputError(f"--hire-grade {', '.join(unknown)} is not a grade of the model",
                         field="hire-grade", expected=f"one of {', '.join(map(str, ladder))}")
    allowed = [g for g in ladder if grades is None or g in grades]
    rows = [(s, g, o) for o, s, g in itertools.product(offices(scenario), specs, allowed)]
    staff = pd.DataFrame({"specialisations": [(s,) if s else () for s, _, _ in rows],
                          "grade": [g for _, g, _ in rows]})
    elig = type_eligibility(replace(scenario, staff=staff), np.ones(len(rows)))
    rank = {g: i for i, g in enumerate(ladder)}
    prof = pd.DataFrame({"specialisation": [s or ANY for s, _, _ in rows], "grade": [g for _, g, _ in rows],
                         "office": [o for _, _, o in rows], "rank": [rank[g] for _, g, _ in rows],
                         "elig": [elig[:, j].tobytes() for j in range(len(rows))]})
    prof = prof[elig.any(axis=0)]
    prof = prof.sort_values("rank", kind="stable").drop_duplicates(["office", "elig"]).sort_index()
    prof["eligible"] = [np.frombuffer(b, dtype=bool) for b in prof["elig"]]
    return prof.drop(columns="elig").reset_index(drop=True)
