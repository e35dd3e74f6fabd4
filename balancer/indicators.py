"""Indicators per office, specialisation and case type: what the people who answer for a part of
the service read about it. One computation for `summary.json`, the console and the report.

Per office and per specialisation (a prosecutor with two specialisations counts in both):
prosecutors with time in the period, their capacity, the cases and hours this run gave them,
utilisation after the draw (highest, mean, lowest, spread) and before it, the mean target, the
mean number of prosecutors who could have taken each of their cases, and — when rebalancing —
cases moved in and out. Per case type: cases, hours, prosecutors qualified and given one, the mean
number of candidates, and cases moved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from balancer.pipeline import Result
from balancer.problem import Problem, staff_capacity, type_rule_failures
from balancer.tables import output_tables

def indicators(result: Result, tables: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """{dimension: table, one row per office / specialisation / case type}; a dimension the
    scenario does not use (no offices, no specialisations) is left out. Empty without a plan.
    `tables`: the run's `output_tables`, when the caller has them already."""
    if result.plan is None:
        return {}
    tables = tables if tables is not None else output_tables(result)
    cases, people = tables["assignments"], tables["staff"]
    people = people[people["capacity_hours"] > 0]
    moves = result.moves
    found = {}
    for dimension, labels in _staff_labels(people).items():
        found[dimension] = _by_staff_group(people, labels, cases, moves)
    found["type"] = _by_type(result, cases, moves)
    return found


def records(found: dict[str, pd.DataFrame]) -> dict[str, list[dict]]:
    """`indicators` as JSON-ready records (NaN → None), for summary.json."""
    return {dimension: [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")]
            for dimension, table in found.items()}


def _staff_labels(people: pd.DataFrame) -> dict[str, pd.Series]:
    """Each prosecutor's office, and specialisations (one row per specialisation), by staff id."""
    by_id = people.set_index("staff_id")
    found = {}
    office = by_id["office"].dropna()
    if len(office):
        found["office"] = office.astype(str).rename("office")
    specs = by_id["specialisations"].str.split(", ").explode()
    specs = specs[specs.notna() & (specs != "")]
    if len(specs):
        found["specialisation"] = specs.astype(str).rename("specialisation")
    return found


def _by_staff_group(people: pd.DataFrame, labels: pd.Series, cases: pd.DataFrame,
                    moves: pd.DataFrame | None) -> pd.DataFrame:
    name = labels.name
    member = labels.rename("group").reset_index()  # staff_id, group
    rows = member.merge(people, on="staff_id")
    table = rows.groupby("group", sort=True).agg(
        prosecutors=("staff_id", "size"), capacity_hours=("capacity_hours", "sum"),
        utilisation_max=("utilisation", "max"), utilisation_mean=("utilisation", "mean"),
        utilisation_min=("utilisation", "min"), before_mean=("utilisation_before", "mean"),
        target_mean=("target_utilisation", "mean"))
    table.insert(4, "spread", table["utilisation_max"] - table["utilisation_min"])
    given = member.merge(cases[["staff_id", "weight_hours", "candidates"]], on="staff_id").groupby("group").agg(
        cases=("staff_id", "size"), hours=("weight_hours", "sum"), candidates_mean=("candidates", "mean"))
    table = table.join(given)
    table[["cases", "hours"]] = table[["cases", "hours"]].fillna(0)
    table["cases"] = table["cases"].astype(np.int64)
    if moves is not None:
        for column, side in (("moved_in", "to"), ("moved_out", "from")):
            counted = member.merge(moves[[side]].rename(columns={side: "staff_id"}), on="staff_id")
            table[column] = counted.groupby("group").size().reindex(table.index, fill_value=0).astype(np.int64)
    order = ["prosecutors", "capacity_hours", "cases", "hours", "utilisation_max", "utilisation_mean",
             "utilisation_min", "spread", "before_mean", "target_mean", "candidates_mean",
             *(["moved_in", "moved_out"] if moves is not None else [])]
    return table[order].rename_axis(name).reset_index()


def _by_type(result: Result, cases: pd.DataFrame, moves: pd.DataFrame | None) -> pd.DataFrame:
    p = result.problem
    table = cases.groupby("case_type", sort=True).agg(
        cases=("case_id", "size"), hours=("weight_hours", "sum"), prosecutors_given=("staff_id", "nunique"),
        candidates_mean=("candidates", "mean"))
    qualified = pd.Series(p.type_eligible.sum(axis=1), index=p.type_ids)
    table.insert(2, "prosecutors_qualified", qualified.reindex(table.index).to_numpy())
    if moves is not None:
        moved = cases.loc[cases["case_id"].isin(moves["case_id"]), "case_type"].value_counts()
        table["moved"] = moved.reindex(table.index, fill_value=0).astype(np.int64)
    return table.rename_axis("type").reset_index()


def _plain(value):
    """A JSON value: numpy scalars as Python ones, NaN as None."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return value


RULE_WORDS = {"time": "have no time in the period", "specialisation": "lack its specialisation",
              "grade": "are below its minimum grade"}
"""How the report says why prosecutors may not take a case type (`type_rule_failures`)."""


def why_by_type(result: Result) -> pd.DataFrame:
    """What `explain` says of one case, for each case type at once: who may take it, the largest
    chance any prosecutor had of one of its cases, and why the others may not (counts by rule; a
    prosecutor failing several rules counts under each). Conflicts and groups are per case: those
    are for `balancer explain CASE`."""
    sc = result.scenario
    fails = type_rule_failures(sc, staff_capacity(sc))
    pool = result.pool
    pi = result.design.probability(pool)
    largest = pd.Series(pi).groupby(_class_type(pool)[pool.edge_class]).max()
    rows = []
    for k, t in enumerate(sc.model.case_types):
        eligible = ~(fails["time"][k] | fails["specialisation"][k] | fails["grade"][k])
        why = [f"{int(fails[rule][k].sum()):,} {words}" for rule, words in RULE_WORDS.items() if fails[rule][k].any()]
        rows.append({"type": t.id, "weight_hours": float(t.weight_hours), "may_take": int(eligible.sum()),
                     "largest_chance": float(largest.get(t.id, np.nan)),
                     "why_others_may_not": "; ".join(why) if why else "everyone may take it"})
    return pd.DataFrame(rows)


def _class_type(pool: Problem) -> np.ndarray:
    """(K,) the case type of each class's first case (a group of several types: its first case's)."""
    first_case = np.full(len(pool.item_class), -1)
    first_case[pool.case_item[::-1]] = np.arange(len(pool.case_item))[::-1]
    first_item = np.full(pool.n_classes, -1)
    first_item[pool.item_class[::-1]] = np.arange(len(pool.item_class))[::-1]
    return pool.case_type[first_case[first_item]].astype(str)
