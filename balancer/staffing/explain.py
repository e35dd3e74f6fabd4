"""What a staffing answer means: the table per office and specialisation, and the findings —
where the formula and the optimiser disagree and why, or why no number of hires is enough."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from balancer.problem import staff_capacity, type_eligibility
from balancer.staffing.decompose import edges
from balancer.staffing.inputs import ALL, ANY, specialisation_of
from balancer.staffing.model import receivers

_TOL = 1e-6


def why_infeasible(scenario, demand, groups, profiles) -> list[str]:
    """Work no allowed hire could take and the staff in post cannot absorb at the target."""
    recv = receivers(groups, profiles)
    e = edges(demand, recv)
    hire = (recv["kind"] == "profile").to_numpy()
    hireable = np.bincount(e.demand[hire[e.receiver]], minlength=len(demand)) > 0
    by_staff = ~hire[e.receiver]
    d, r = e.demand[by_staff], e.receiver[by_staff]
    spare = np.bincount(d, recv["spare"].to_numpy(float)[r], minlength=len(demand))
    members = np.bincount(d, recv["members"].to_numpy(float)[r], minlength=len(demand))
    types = {t.id: t for t in scenario.model.case_types}
    msgs = []
    for i, row in enumerate(demand.itertuples()):
        if hireable[i] or spare[i] + _TOL >= row.hours:
            continue
        t = types[row.type]
        needs = " and ".join(filter(None, [t.specialisation and f"specialisation {t.specialisation}",
                                           t.min_grade and f"grade {t.min_grade} or above"]))
        where = f" in office {row.office}" if row.office else ""
        msgs.append(f"{row.type}{where}: needs {needs or 'a prosecutor'}; no hire allowed could take it, "
                    f"and the {members[i]:.0f} in post who may have {spare[i]:,.0f} h "
                    f"spare at the target for {row.hours:,.0f} h of work")
    return msgs or ["no number of hires keeps everyone at or below the target (several types compete "
                    "for the same staff in post that no allowed hire can relieve)"]


def table(scenario, demand, hired, hire_hours, target) -> pd.DataFrame:
    """Rows per (office, specialisation), each office's `all` row, and the overall `all`/`all` row.
    Work and staff without an office count only in the overall rows."""
    cap = staff_capacity(scenario)
    staff = scenario.staff.assign(capacity=cap, office=scenario.staff["office"].astype(object).fillna(ALL),
                                  n=1)[cap > 0]
    dem = demand.assign(office=demand["office"].astype(object).fillna(ALL))
    hired = hired.assign(office=hired["office"].astype(object).fillna(ALL), grade=hired["grade"].fillna(""))
    offices = sorted((set(dem["office"]) | set(staff["office"])) - {ALL}) + [ALL]
    specs = sorted(set(dem["specialisation"]))
    specs = [] if specs == [ANY] else specs  # only unrestricted work: the `all` rows say it all
    # one pass over each table: sums per (office, specialisation) with `all` on either side
    work = _sums(dem, ["specialisation"], ["filings", "hours"])
    posts = _sums(staff, [], ["n", "capacity", "current_load_hours"])
    held = _sums(staff.explode("specialisations"), ["specialisations"], ["n", "capacity", "current_load_hours"])
    hires = _sums(hired, ["specialisation"], ["hires"])
    grades = _sums(hired[hired["hires"] > 0], ["specialisation", "grade"], ["hires"])
    by_grade: dict[tuple, list[str]] = {}
    for (office, spec, grade), n in grades["hires"].items():
        by_grade.setdefault((office, spec), []).append(f"{int(n)} {grade}".strip())
    rows = []
    for office in offices:
        for spec in specs + [ALL]:
            d = _at(work, (office, spec))
            h = _at(hires, (office, spec))
            if spec != ALL and not d.any() and h["hires"] == 0:
                continue
            holders = _at(posts, office) if spec in (ANY, ALL) else _at(held, (office, spec))
            rows.append(_row(office, spec, d, holders, h, ", ".join(by_grade.get((office, spec), [])), hire_hours))
    return pd.DataFrame(rows)


def _sums(df: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Sums of `values` per (office, *keys), and with `all` for the office, for the first key, or
    both; rows without an office (office `all`) count only in the all-office sums."""
    copies = [df[df["office"] != ALL], df.assign(office=ALL)]
    if keys:
        copies += [c.assign(**{keys[0]: ALL}) for c in copies]
    return pd.concat(copies).groupby(["office", *keys], sort=False)[values].sum()


def _at(sums: pd.DataFrame, key) -> pd.Series:
    return sums.loc[key] if key in sums.index else pd.Series(0.0, index=sums.columns)


def _row(office, spec, d, holders, h, grades, hire_hours) -> dict:
    workload = float(d["hours"])
    in_post = float(holders["capacity"]) / hire_hours
    need = workload / hire_hours
    return {"office": office, "specialisation": spec, "filings": float(d["filings"]),
            "workload_hours": round(workload, 4), "staff": int(holders["n"]),
            "fte_in_post": round(in_post, 4), "capacity_hours": round(float(holders["capacity"]), 4),
            "current_load_hours": round(float(holders["current_load_hours"]), 4),
            "available_hours": round(float(holders["capacity"] - holders["current_load_hours"]), 4),
            "formula_need_fte": round(need, 4), "formula_gap_fte": round(need - in_post, 4),
            "hires": int(h["hires"]), "hires_by_grade": grades}


def disagreements(scenario, table, demand, target, hire_hours) -> list[str]:
    """One sentence per row where whole-post formula hires (⌈gap⌉) differ from the optimiser's."""
    out, who = [], _Eligibility(scenario, demand)
    for r in table.itertuples():
        formula = max(0, math.ceil(r.formula_gap_fte - _TOL))
        if formula == r.hires:
            continue
        gap = r.formula_gap_fte
        says = f"formula says {gap:.2f} FTE short" if gap > 0 else f"formula says {-gap:.2f} FTE spare"
        reasons = _reasons(who, table, r, demand, target, hire_hours)
        out.append(f"{_where(r)}: {says}; the optimiser hires {r.hires} ({'; '.join(reasons)})")
    return out


def _where(r) -> str:
    if r.office == ALL:
        return "overall" if r.specialisation == ALL else r.specialisation
    return f"{r.office}" if r.specialisation == ALL else f"{r.office}/{r.specialisation}"


def _reasons(who, table, r, demand, target, hire_hours) -> list[str]:
    reasons = []
    spec_types = [t for t in who.types if specialisation_of(t) == r.specialisation]
    graded = [t for t in spec_types if t.min_grade is not None]
    if r.hires > max(0, math.ceil(r.formula_gap_fte - _TOL)):
        restricted = graded or [t for t in spec_types if t.specialisation is not None]
        if restricted:
            reasons.append(_eligibility_reason(who, r.office, restricted[0]))
        if r.current_load_hours > 0:
            reasons.append(f"staff in post already carry {r.current_load_hours:,.0f} h of current load "
                           f"({r.current_load_hours / hire_hours:.2f} FTE) the formula leaves out")
        if target < 1:
            reasons.append(f"the formula fills posts to 100 %, the target stops at {target:.0%} "
                           f"(need at target {r.formula_need_fte / target:.2f} FTE)")
        if r.office == ALL and r.specialisation == ALL and _idle_office(table):
            reasons.append("spare time in one office cannot take another office's cases")
        if r.specialisation in (ALL, ANY) and r.office in who.specialist_offices:
            reasons.append("specialist work can only go to specialists, so their share of the posts "
                           "is not free for it")
        reasons.append("hires are whole posts")
    else:
        if r.specialisation == ANY:
            reasons.append("specialists' spare time and specialist hires also take these cases")
        elif r.specialisation != ALL:
            reasons.append(f"{r.specialisation} specialists do not need to be hired as such: "
                           "generalists free their time by taking their other cases")
        else:
            reasons.append("formula gaps of separate offices or lines do not add up to whole posts")
    return reasons


def _eligibility_reason(who, office, t) -> str:
    tight = who.staff(office, t)
    grade = f"{t.min_grade}s or above" if t.min_grade else "prosecutors"
    spec = f" with {t.specialisation}" if t.specialisation else ""
    n = int(tight["n"])
    state = f"there are {n}, at {tight['load0'] / tight['capacity']:.0%} from current load" if n else "there are none in post"
    return f"eligibility: only {grade}{spec} may take {t.id}; {state}"


def _idle_office(table) -> bool:
    """Some office has formula spare time while another needs hires."""
    offices = table[(table["office"] != ALL) & (table["specialisation"] == ALL)]
    return bool(((offices["formula_gap_fte"] < 0) & (offices["hires"] == 0)).any() and offices["hires"].any())


def above_target(scenario, target) -> list[str]:
    """Staff whose current load alone is above the target: no hire can bring them below it."""
    cap = staff_capacity(scenario)
    load = scenario.staff["current_load_hours"].to_numpy(float)
    over = np.flatnonzero((cap > 0) & (load > target * cap + _TOL))
    return [f"{scenario.staff['id'].iat[p]} is at {load[p] / cap[p]:.0%} from current load alone, above the "
            f"{target:.0%} target: hires take new cases off them, but only moving work in hand lowers it"
            for p in over]


class _Eligibility:
    """Who in post may take each type (count, current load, capacity per office and overall) and
    which offices have specialist work: computed once for all the findings."""

    def __init__(self, scenario, demand):
        cap = staff_capacity(scenario)
        self.types = scenario.model.case_types
        eligible = type_eligibility(scenario, cap)
        t, p = np.nonzero(eligible)
        staff = pd.DataFrame({"type": np.array([x.id for x in self.types], dtype=object)[t],
                              "office": scenario.staff["office"].astype(object).fillna(ALL).to_numpy()[p],
                              "n": 1, "load0": scenario.staff["current_load_hours"].to_numpy(float)[p],
                              "capacity": cap[p]})
        self._sums = _sums(staff, ["type"], ["n", "load0", "capacity"])
        specialist = demand[demand["specialisation"] != ANY]
        self.specialist_offices = set(specialist["office"].astype(object).fillna(ALL)) | (
            {ALL} if len(specialist) else set())

    def staff(self, office, case_type) -> pd.Series:
        """n, load0 and capacity of the staff in post (in `office`, or all) eligible for the type."""
        return _at(self._sums, (office, case_type.id))
