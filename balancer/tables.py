"""The plan's tables as a run writes them: the plan's own columns first, exactly as drawn (the
output contract; `balancer.register.result_digest` hashes three of them), then columns that say
what each row is (case type, group, candidates; office, grade, specialisations) for a reader who
does not have the scenario at hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from balancer.balance import utilisation
from balancer.pipeline import Result
from balancer.problem import Problem

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads a text cell beginning with as a formula (OWASP, "CSV Injection"): the
CSV writer (`io.inert`) and the workbook (`balancer.workbook`) keep such cells text."""


SHOWN_DECIMALS = {"utilisation": 3, "hours": 1}
"""The staff table's figures as written: a share (utilisation, before, after, target) to 0.1 %, and
hours (capacity, loads) to 0.1 h. The columns are derived, per prosecutor, for reading; nothing
reads them back (the register hashes the assignments, `verify` replays from the inputs, and a
check recomputes loads from the assignments and the inputs)."""


def output_tables(result: Result) -> dict[str, pd.DataFrame]:
    """assignments and staff (and moves, when rebalancing), each with its added columns."""
    if result.plan is None:
        return {}
    tables = {"assignments": assignments(result), "staff": staff(result)}
    if result.moves is not None:
        tables["moves"] = result.moves
    return tables


def assignments(result: Result) -> pd.DataFrame:
    """The plan's assignments with each case's type, group, number of candidates, and the office
    of the prosecutor it went to."""
    table = result.plan.assignments
    problem = result.problem
    row = pd.Index(problem.case_ids).get_indexer(table["case_id"].to_numpy(dtype=object))
    office = result.scenario.staff.set_index("id")["office"]
    return table.assign(case_type=problem.case_type[row], group=problem.case_group[row],
                        candidates=case_candidates(problem)[row],
                        office=office.reindex(table["staff_id"].to_numpy(dtype=object)).to_numpy(dtype=object))


def case_candidates(problem: Problem) -> np.ndarray:
    """(N,) how many prosecutors may take each case: its class's eligible set, less what a pooled
    case excludes (its class keeps those prosecutors for its other cases)."""
    per_item = problem.class_degree[problem.item_class].copy()
    per_item[problem.pooled_item] -= np.diff(problem.pooled_excl_start)
    return per_item[problem.case_item]


def staff(result: Result) -> pd.DataFrame:
    """The plan's staff table with office, grade, specialisations and the utilisation before the
    draw (rebalancing has its own: the hours held before)."""
    table = result.plan.staff
    given = result.scenario.staff.set_index("id").reindex(table["staff_id"].to_numpy(dtype=object))
    added = {
        "office": given["office"].to_numpy(dtype=object),
        "grade": given["grade"].to_numpy(dtype=object),
        "specialisations": [", ".join(s) for s in given["specialisations"]],
    }
    if "utilisation_before" not in table:
        problem = result.problem
        before = pd.Series(utilisation(problem, np.zeros(problem.n_staff)), index=problem.staff_ids)
        added["utilisation_before"] = before.reindex(table["staff_id"].to_numpy(dtype=object)).to_numpy()
    return table.assign(**added)


def rounded(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """`tables` as they are written (`SHOWN_DECIMALS`): only the staff table is rounded. Each case's
    weight is kept as given and π exact (the register's result hash is computed from it); a move's
    hours are its case's weight. Indicators are computed from the unrounded tables."""
    if "staff" not in tables:
        return tables
    staff = tables["staff"]
    decimals = {}
    for column in staff.columns:
        if pd.api.types.is_float_dtype(staff[column]):
            decimals.update({column: d for key, d in SHOWN_DECIMALS.items() if key in str(column)})
    return {**tables, "staff": staff.round(decimals)}
