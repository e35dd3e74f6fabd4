"""Why a case went where it did: a run's draw replayed from its scenario and seed (as `verify`
replays a record), then, for one case, every prosecutor's chance and, for each one who had none,
the rule that kept them out. A person who asks "why me?" or "why not her?" gets the answer from
the inputs and the lottery, not from someone's recollection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from balancer.errors import InputError
from balancer.io import restored
from balancer.pipeline import Result, solve
from balancer.problem import Problem

ID_COLUMNS = ("case_id", "staff_id", "previous_staff_id")


@dataclass(frozen=True)
class Explanation:
    case_id: str
    case_type: str
    weight_hours: float
    group: str | None
    excluded: tuple[str, ...]
    staff_id: str
    """Who the case went to."""
    previous_staff_id: str | None
    """Rebalancing: who held it before (None: a new case, or not a rebalance)."""
    drawn: bool
    """False: a held case that stayed with its holder (rebalancing); nothing was drawn for it."""
    chances: dict[str, float]
    """Every prosecutor with a chance of the case, with π, largest first."""
    why_not: dict[str, str]
    """Every other prosecutor, with why they had no chance."""
    scenario: str
    seed: int
    seed_source: str
    record: dict | None
    """Where the draw was recorded (summary.json's `register`); None: not recorded."""


def read_run(run: Path) -> tuple[dict, pd.DataFrame]:
    """summary.json and assignments.csv of a run folder (ids as given), or an InputError."""
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        table = pd.read_csv(run / "assignments.csv", dtype=str, keep_default_na=False)
        seed = int(summary["seed"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{run} is not a run folder (its summary.json and assignments.csv, as "
                         f"`balancer run` writes them, cannot be read: {e})") from None
    if summary.get("status") != "done" or "case_id" not in table:
        raise InputError(f"{run}: not a run folder with a drawn plan (status {summary.get('status')!r})")
    summary["seed"] = seed
    for column in ID_COLUMNS:
        if column in table:
            table[column] = table[column].map(restored)
    return summary, table


def explain(run: Path, case_id: str, scenario_path: Path, within: Path | None = None) -> Explanation:
    """Why `case_id` of the run in folder `run` went where it did; `scenario_path`: the scenario
    the run was drawn from (loaded with the variant and settings its summary names, reading only
    files inside `within` if given: `load_scenario`)."""
    from balancer.scenario import load_scenario

    summary, table = read_run(run)
    row = table.index[table["case_id"] == case_id]
    if len(row) == 0:
        raise InputError(f"case {case_id!r} is not in {run / 'assignments.csv'}")
    applied = summary.get("applied") or {}
    sc = load_scenario(scenario_path, variant=applied.get("variant"), settings=applied.get("settings") or None,
                       within=within)
    if sc.canonical_sha256 != summary.get("canonical_sha256"):
        raise InputError(f"{scenario_path} is not the scenario the run in {run} was drawn from (its inputs "
                         "differ from the ones summary.json names)")
    result = solve(sc, seed=summary["seed"])
    went_to = table.at[row[0], "staff_id"]
    if _replayed_staff(result, case_id) != went_to:
        raise InputError(f"replaying {scenario_path} with the run's seed does not give the run's draw of "
                         f"{case_id}: the folder's files are not that draw's")
    return _explanation(result, summary, case_id, went_to)


def _replayed_staff(result: Result, case_id: str) -> str | None:
    a = result.plan.assignments if result.plan is not None else None
    found = a["staff_id"][a["case_id"].astype(str) == case_id] if a is not None else []
    return str(found.iloc[0]) if len(found) else None


def _explanation(result: Result, summary: dict, case_id: str, went_to: str) -> Explanation:
    problem = result.problem
    c = int(pd.Index(problem.case_ids).get_loc(case_id))
    previous = problem.case_holder_id[c]
    drawn = case_id in set(result.pool.case_ids)
    chances = case_chances(result.pool, result.design, case_id) if drawn else {went_to: 1.0}
    others = {str(s): why_not(result, c, i) or (
        "eligible, but the lottery gives them no chance of it: any share would take their load out "
        "of the balance band" if drawn else "the case stayed with its holder: it was not drawn")
        for i, s in enumerate(problem.staff_ids) if str(s) not in chances}
    group = problem.case_group[c]
    return Explanation(
        case_id=case_id, case_type=str(problem.case_type[c]), weight_hours=float(problem.case_weight[c]),
        group=None if group is None or pd.isna(group) else str(group),
        excluded=tuple(map(str, problem.case_excluded[c])), staff_id=went_to,
        previous_staff_id=None if previous is None else str(previous), drawn=drawn,
        chances=chances, why_not=others, scenario=summary["scenario"], seed=summary["seed"],
        seed_source=summary.get("seed_source", "os"), record=summary.get("register"))


def case_chances(pool: Problem, design, case_id: str) -> dict[str, float]:
    """π of every prosecutor with a chance of `case_id` (a case of `pool`), largest first: its
    class's row, or for a pooled case that row without its exclusions, rescaled."""
    item = pool.case_item[int(pd.Index(pool.case_ids).get_loc(case_id))]
    k = pool.item_class[item]
    edges = np.arange(pool.class_edge_start[k], pool.class_edge_start[k + 1])
    staff = pool.edge_staff[edges]
    pi = design.probability(pool)[edges]
    pooled = np.flatnonzero(pool.pooled_item == item)
    if len(pooled):
        m = int(pooled[0])
        pi = design.pooled_probability(np.full(len(edges), m), edges)
        pi[np.isin(staff, pool.pooled_excl_staff[pool.pooled_excl_start[m]:pool.pooled_excl_start[m + 1]])] = 0.0
    order = np.argsort(-pi, kind="stable")
    return {str(pool.staff_ids[staff[j]]): float(pi[j]) for j in order if pi[j] > 0}


def why_not(result: Result, c: int, p: int) -> str:
    """Every rule that keeps prosecutor `p` from case `c`, in plain words ('' when none does)."""
    problem = result.problem
    reasons = _rules(result, c, p)
    group = problem.case_group[c]
    if not reasons and group is not None and not pd.isna(group):
        for other in np.flatnonzero(problem.case_group == group):
            if other != c and _rules(result, other, p):
                reasons.append(f"cannot take {problem.case_ids[other]} of the same group (a group goes to one "
                               "prosecutor)")
                break
    return "; ".join(reasons)


def _rules(result: Result, c: int, p: int) -> list[str]:
    """The rules of case `c` alone that prosecutor `p` fails."""
    problem = result.problem
    t = problem.type_index([problem.case_type[c]])[0]
    staff = result.scenario.staff.set_index("id").loc[problem.staff_ids[p]]
    reasons = []
    if problem.capacity[p] <= 0:
        reasons.append("no time in the period (away, or no hours)")
    spec = problem.type_specialisation[t]
    if spec is not None and spec not in staff["specialisations"]:
        reasons.append(f"does not hold the {spec} specialisation")
    low = problem.type_min_grade[t]
    grades = list(result.scenario.model.grades)
    if low is not None and (staff["grade"] not in grades or grades.index(staff["grade"]) < grades.index(low)):
        reasons.append(f"grade {staff['grade'] or 'none'} is below the {low} this case type needs")
    if problem.staff_ids[p] in problem.case_excluded[c]:
        reasons.append(f"conflict of interest: {problem.case_ids[c]} excludes them")
    return reasons

