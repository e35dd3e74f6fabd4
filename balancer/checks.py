"""Check step: what makes a scenario impossible, found before any solver runs.

Each finding carries the numbers that prove it, so a planner can see what to change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

import numpy as np
import pandas as pd
from ortools.graph.python import max_flow

from balancer.balance import capacity_room
from balancer.problem import Problem
from balancer.rebalance import holding

MAX_NAMES = 8
"""How many ids a message lists before it says 'and N more'."""


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    code: str
    """Stable identifier, e.g. `no-eligible-staff`."""
    severity: Severity
    message: str
    """One paragraph for people, with the numbers."""
    numbers: dict = field(default_factory=dict)
    """The same numbers for programs (summary.json)."""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


def names(ids, limit: int = MAX_NAMES) -> str:
    ids = [str(i) for i in ids]
    more = len(ids) - limit
    return ", ".join(ids[:limit]) + (f" and {more} more" if more > 0 else "")


def check(problem: Problem, *, hard_capacity: bool) -> list[Finding]:
    """Every finding about `problem`; `hard_capacity` (`policy.capacity == "hard"`) adds the min-cut."""
    findings = no_time(problem) + unassignable(problem)
    findings += beyond_reason(problem) if not findings else []
    findings += warnings(problem)
    if hard_capacity and not has_errors(findings):
        findings += capacity_cut(problem)
    return findings


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def no_time(problem: Problem) -> list[Finding]:
    """Nobody has any time in the period: every case is unassignable for that one reason, said once."""
    if problem.n_staff == 0 or (problem.capacity > 0).any() or problem.n_classes == 0:
        return []
    return [Finding(
        "no-capacity", Severity.ERROR,
        f"no prosecutor has any time in the period: all {problem.n_staff} have a capacity of 0 hours "
        f"(fte 0, capacity_hours 0, or away the whole period: {names(problem.staff_ids)}), so none of the "
        f"{int(problem.class_count.sum())} allocation unit(s) ({float(problem.class_hours.sum()):,.1f} hours) "
        "can be allocated.",
        {"staff": problem.staff_ids.tolist(), "capacity_hours": 0.0,
         "hours": float(problem.class_hours.sum())},
    )]


MAX_LOAD_RATIO = 100.0
"""Work of more than this many times the eligible prosecutors' time (10,000 % utilisation) is
refused: no office has it, and the solvers lose their accuracy on such scales."""


def beyond_reason(problem: Problem) -> list[Finding]:
    """Classes whose hours exceed `MAX_LOAD_RATIO` times the time of everyone who may take them."""
    if problem.n_classes == 0:
        return []
    time = np.bincount(problem.edge_class, weights=problem.capacity[problem.edge_staff], minlength=problem.n_classes)
    ratio = np.divide(problem.class_hours, time, out=np.full(problem.n_classes, np.inf), where=time > 0)
    worst = np.flatnonzero((ratio > MAX_LOAD_RATIO) & (problem.class_degree > 0))
    if not len(worst):
        return []
    k = worst[np.argmax(ratio[worst])]
    return [Finding(
        "load-beyond-reason", Severity.ERROR,
        f"{len(worst)} kind(s) of case need more than {MAX_LOAD_RATIO:.0f} times the time of everyone who may "
        f"take them; the worst, {problem.class_label[k]}, needs {float(problem.class_hours[k]):,.3g} hours where "
        f"those prosecutors have {float(time[k]):,.3g} ({float(ratio[k]):.3g} times). Check the weights and "
        "capacities (hours, not minutes?).",
        {"classes": int(len(worst)), "hours": float(problem.class_hours[k]), "capacity_hours": float(time[k]),
         "ratio": float(ratio[k])},
    )]


def unassignable(problem: Problem) -> list[Finding]:
    """Classes nobody may take: why, type by type, group by group."""
    empty = np.flatnonzero(problem.class_degree == 0)
    if len(empty) == 0:
        return []
    why_type = _type_reasons(problem)
    case_class = problem.item_class[problem.case_item]
    findings = []
    for k in empty:
        rows = np.flatnonzero(case_class == k)
        ids = problem.case_ids[rows]
        hours = float(problem.class_hours[k])
        group = problem.case_group[rows]
        grouped = pd.notna(group)
        if grouped.any():
            for name, members in pd.Series(rows[grouped]).groupby(group[grouped], sort=False):
                findings.append(_group_finding(name, members.to_numpy(), problem))
            continue
        types = pd.unique(problem.case_type[rows])
        if len(types) == 1 and why_type[types[0]][1] == 0:
            reason = why_type[types[0]][0]
        else:
            reason = "every prosecutor who could take them is excluded by a conflict of interest"
        findings.append(Finding(
            "no-eligible-staff", Severity.ERROR,
            f"{len(rows)} case(s) of type {names(types)} ({hours:g} hours: {names(ids)}) "
            f"have no eligible prosecutor: {reason}.",
            {"cases": ids.tolist(), "hours": hours, "types": list(map(str, types))},
        ))
    return findings


def _type_reasons(problem: Problem) -> dict[str, tuple[str, int]]:
    """For each case type: who may take it, step by step, and how many remain."""
    out = {}
    for t, row in enumerate(problem.type_eligible):
        steps = []
        if problem.type_specialisation[t] is not None:
            steps.append(f"it needs specialisation '{problem.type_specialisation[t]}', "
                         f"held by {problem.type_specialists[t]}")
        if problem.type_min_grade[t] is not None:
            steps.append(f"grade {problem.type_min_grade[t]} or above")
        steps.append(f"time in the period; {int(row.sum())} prosecutor(s) meet all of that")
        out[problem.type_ids[t]] = ("; ".join(steps), int(row.sum()))
    return out


def _group_finding(name, members: np.ndarray, problem: Problem) -> Finding:
    """`members`: the group's cases (indices)."""
    ids = problem.case_ids[members]
    types = pd.unique(problem.case_type[members])
    per_type = []
    for t, row in zip(types, problem.type_eligible[problem.type_index(types)]):
        who = problem.staff_ids[row]
        per_type.append(f"{t}: {len(who)} eligible ({names(who, 5)})")
    excluded = sorted({s for c in members for s in problem.case_excluded[c]})
    extra = f"; excluded by conflicts: {names(excluded)}" if excluded else ""
    return Finding(
        "group-without-common-staff", Severity.ERROR,
        f"group {name}: its {len(members)} cases ({names(ids)}) must go to one "
        f"prosecutor, but no prosecutor may take all of them — {'; '.join(per_type)}{extra}.",
        {"group": str(name), "cases": ids.tolist(), "excluded": excluded},
    )


def warnings(problem: Problem) -> list[Finding]:
    out = []
    away = problem.staff_ids[problem.capacity <= 0]
    if len(away):
        out.append(Finding(
            "staff-without-time", Severity.WARNING,
            f"{len(away)} prosecutor(s) have no time in the period and get no cases: {names(away)}.",
            {"staff": away.tolist()},
        ))
    hold = holding(problem)
    if hold.forced.any():
        forced = hold.forced[problem.case_item]
        holders = sorted({str(h) for h in problem.case_holder_id[forced]})
        out.append(Finding(
            "held-cases-must-move", Severity.WARNING,
            f"{int(forced.sum())} case(s) are held by someone who may not keep them (no time in the "
            f"period, a conflict, a missing specialisation or grade, or a group split between "
            f"holders); they move whatever the move budget. Holders: {names(holders)}.",
            {"cases": int(forced.sum()), "holders": holders},
        ))
    work = float(problem.class_hours.sum() + problem.base_load.sum())
    capacity = float(problem.capacity.sum())
    if work > capacity > 0:  # no capacity at all is an error of its own (`no_time`)
        out.append(Finding(
            "over-capacity", Severity.WARNING,
            f"the office is over capacity: {work:,.1f} hours of work (backlog and current load) "
            f"against {capacity:,.1f} hours available ({work / capacity:.0%}).",
            {"work_hours": work, "capacity_hours": capacity},
        ))
    return out


def capacity_cut(problem: Problem, scale: float = 1000.0) -> list[Finding]:
    """With hard capacity: the backlog must fit the free hours. If it cannot, the min-cut of the
    flow network (source → classes → eligible staff → sink) names the cases that overflow."""
    K, P = problem.n_classes, problem.n_staff
    source, sink = K + P, K + P + 1
    room = capacity_room(problem)
    demand = np.round(problem.class_hours * scale).astype(np.int64)
    big = int(demand.sum()) + 1
    tails = np.concatenate([np.full(K, source), problem.edge_class, K + np.arange(P)])
    heads = np.concatenate([np.arange(K), K + problem.edge_staff, np.full(P, sink)])
    caps = np.concatenate([demand, np.full(problem.n_edges, big),
                           np.floor(room * scale).astype(np.int64)])
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails, heads, caps)
    flow.solve(source, sink)
    side = np.asarray(flow.get_source_side_min_cut())
    classes = side[side < K]
    staff = side[(side >= K) & (side < K + P)] - K
    hours = float(problem.class_hours[classes].sum())
    free = float(room[staff].sum())
    if hours <= free * (1 + 1e-9) + 1e-6:  # exact check: rounding alone is no infeasibility
        return []
    items = int(problem.class_count[classes].sum())
    case_class = problem.item_class[problem.case_item]
    cases = problem.case_ids[np.isin(case_class, classes)]
    return [Finding(
        "capacity-exceeded", Severity.ERROR,
        f"with hard capacity the backlog cannot fit: these {len(cases)} case(s) "
        f"({items} allocation unit(s), {hours:,.1f} hours; {names(cases)}) can only go to these "
        f"{len(staff)} prosecutor(s), whose free capacity is {free:,.1f} hours "
        f"({names(problem.staff_ids[staff])}) — {hours - free:,.1f} hours short.",
        {"cases": cases.tolist(), "hours": hours, "staff": problem.staff_ids[staff].tolist(),
         "free_hours": free, "short_hours": hours - free},
    )]


def over_capacity_after_moves(pool: Problem) -> list[Finding]:
    """Hard capacity under a move budget: who stays above 100 % on the cases they keep alone."""
    over = pool.base_load > pool.capacity + 1e-9
    if not over.any():
        return []
    ids = pool.staff_ids[over]
    worst = float(np.max(pool.base_load[over] / np.maximum(pool.capacity[over], 1e-9)))
    return [Finding(
        "hard-capacity-needs-more-moves", Severity.WARNING,
        f"{len(ids)} prosecutor(s) keep more than 100 % of their capacity in the cases they hold "
        f"(up to {worst:.0%}) because the move budget does not allow more moves: {names(ids)}. "
        "Raise `policy.moves` to bring them under capacity.",
        {"staff": ids.tolist(), "max_utilisation_kept": worst},
    )]
