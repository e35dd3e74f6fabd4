"""Plan step: a drawn assignment becomes tables (pandas) and metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancer.balance import Balance, utilisation
from balancer.limits import IntegralLimit
from balancer.lottery import Design
from balancer.problem import Problem
from balancer.rebalance import Holding, Selection
from balancer.scenario import Moves


@dataclass(frozen=True)
class Plan:
    assignments: pd.DataFrame
    """One row per case: case_id, staff_id, weight_hours, probability (π of that pair)."""
    staff: pd.DataFrame
    """One row per prosecutor: capacities, loads before/after, utilisation and its leximin target."""
    metrics: dict
    """Balance and randomness metrics (see `balance_metrics`, `randomness_metrics`)."""


def make_plan(problem: Problem, balance: Balance, design: Design, item_staff: np.ndarray,
              limit: IntegralLimit | None = None) -> Plan:
    case_staff = item_staff[problem.case_item]
    item_edge = problem.edge_index(problem.item_class, item_staff)
    item_pi = design.probability(problem)[item_edge]
    pooled = problem.pooled_item
    item_pi[pooled] = design.pooled_probability(np.arange(len(pooled)), item_edge[pooled])
    assignments = pd.DataFrame({
        "case_id": problem.case_ids,
        "staff_id": problem.staff_ids[case_staff],
        "weight_hours": problem.case_weight,
        "probability": item_pi[problem.case_item],
    })
    assigned = np.bincount(case_staff, weights=problem.case_weight, minlength=problem.n_staff)
    staff = staff_table(problem, case_staff, balance.target_utilisation)
    metrics = {
        "n_cases": int(len(problem.case_ids)),
        "n_items": int(len(problem.item_class)),
        "n_staff": int(problem.n_staff),
        "n_classes": int(problem.n_classes),
        "n_edges": int(problem.n_edges),
        **balance_metrics(problem, balance, assigned),
        **limit_metrics(limit),
        **randomness_metrics(problem, design),
    }
    return Plan(assignments=assignments, staff=staff, metrics=metrics)


def limit_metrics(limit: IntegralLimit | None) -> dict:
    """The two limits a draw is judged against: the best fractional maximum (LP bound) and the
    best maximum of whole cases (integral limit, with its proven lower bound)."""
    if limit is None:
        return {}
    return {"lp_bound": limit.lp_bound, "integral_limit": limit.upper,
            "integral_limit_lower": limit.lower, "integral_gap_above_target": limit.above_target}


def staff_table(problem: Problem, case_staff: np.ndarray, target_utilisation: np.ndarray) -> pd.DataFrame:
    """One row per prosecutor: capacity, loads before/after, utilisation and its leximin target."""
    assigned = np.bincount(case_staff, weights=problem.case_weight, minlength=problem.n_staff)
    return pd.DataFrame({
        "staff_id": problem.staff_ids,
        "capacity_hours": problem.capacity,
        "base_load_hours": problem.base_load,
        "assigned_hours": assigned,
        "load_hours": problem.base_load + assigned,
        "utilisation": utilisation(problem, assigned),
        "target_utilisation": target_utilisation,
        "cases": np.bincount(case_staff, minlength=problem.n_staff),
    })


def rebalanced_plan(problem: Problem, hold: Holding, released: np.ndarray, selection: Selection,
                    pool_balance: Balance, pool_plan: Plan, moves: Moves) -> tuple[Plan, pd.DataFrame, dict]:
    """The plan of every listed case after rebalancing, the moves table, and the summary block.

    `pool_plan` holds the draw of the new and released cases; the others stay with their holders
    (probability 1: the selection is not random, only which of a group's interchangeable cases go).
    """
    stays = (hold.held & ~released)[problem.case_item]
    staff_pos = pd.Index(problem.staff_ids)
    previous = problem.case_holder_id
    was = problem.case_holder
    case_staff = np.empty(len(problem.case_ids), dtype=np.int64)
    probability = np.ones(len(problem.case_ids))
    case_staff[stays] = was[stays]
    case_staff[~stays] = staff_pos.get_indexer(pool_plan.assignments["staff_id"].to_numpy(dtype=object))
    probability[~stays] = pool_plan.assignments["probability"].to_numpy()
    assignments = pd.DataFrame({
        "case_id": problem.case_ids,
        "staff_id": problem.staff_ids[case_staff],
        "weight_hours": problem.case_weight,
        "probability": probability,
        "previous_staff_id": previous,
    })

    staying_hours = np.bincount(case_staff[stays], weights=problem.case_weight[stays], minlength=problem.n_staff)
    balance = Balance(load=pool_balance.load + staying_hours, flow=np.zeros(0),
                      target_utilisation=pool_balance.target_utilisation)
    staff = staff_table(problem, case_staff, balance.target_utilisation)
    held_before = np.bincount(was[was >= 0], weights=problem.case_weight[was >= 0], minlength=problem.n_staff)
    staff.insert(3, "held_hours_before", held_before)
    staff.insert(6, "utilisation_before", utilisation(problem, held_before))

    moved = (was >= 0) & (case_staff != was)
    forced = hold.forced[problem.case_item]
    table = pd.DataFrame({
        "case_id": problem.case_ids[moved],
        "from": problem.staff_ids[was[moved]],
        "to": problem.staff_ids[case_staff[moved]],
        "hours": problem.case_weight[moved],
        "reason": np.where(forced[moved], "holder not eligible", "balance"),
    })
    on = problem.capacity > 0
    metrics = {k: pool_plan.metrics[k] for k in pool_plan.metrics if k not in BALANCE_KEYS}
    metrics.update({
        "n_cases": int(len(problem.case_ids)),
        "n_items": int(len(problem.item_class)),
        "n_classes": int(problem.n_classes),
        "n_edges": int(problem.n_edges),
        "n_drawn_cases": int((~stays).sum()),
        **balance_metrics(problem, balance, staff["assigned_hours"].to_numpy()),
        "max_utilisation_before": _stats(utilisation(problem, held_before)[on])["max"],
    })
    released_cases = hold.held[problem.case_item] & released[problem.case_item]
    summary = {
        "held_cases": int((was >= 0).sum()),
        "new_cases": int((was < 0).sum()),
        "moved_cases": int(moved.sum()),
        "moved_hours": float(problem.case_weight[moved].sum()),
        "forced_moves": int((moved & forced).sum()),
        "balance_moves": int((moved & ~forced).sum()),
        "balance_moved_hours": float(problem.case_weight[moved & ~forced].sum()),
        "released_cases": int(released_cases.sum()),
        "released_but_kept": int((released_cases & ~moved).sum()),
        "budget": moves.model_dump(mode="json"),
        "groups": int(len(selection.groups.count)),
        "selection": selection.method,
        "fluid_balance_moves": float(selection.fluid_moved.sum()),
        "utilisation_before": _stats(utilisation(problem, held_before)[on]),
        "utilisation_after": _stats(staff["utilisation"].to_numpy()[on]),
    }
    return Plan(assignments=assignments, staff=staff, metrics=metrics), table, summary


def _stats(u: np.ndarray) -> dict:
    if len(u) == 0:
        return {}
    return {"max": float(u.max()), "min": float(u.min()), "mean": float(u.mean()),
            "spread": float(u.max() - u.min())}


def probability_table(problem: Problem, design: Design) -> pd.DataFrame:
    """The whole lottery, one row per class × eligible prosecutor with π > 0.

    `probability` is π for each of the class's cases without a pooled conflict; a pooled case's π
    is `expected_cases / (cases − its excluded prosecutors' expected_cases)` on the prosecutors it
    does not exclude (see README, "What is guaranteed").
    """
    pi = design.probability(problem)
    k = problem.edge_class
    table = pd.DataFrame({
        "class": k,
        "class_label": problem.class_label[k],
        "cases": problem.class_count[k],
        "pooled_cases": problem.class_pooled[k],
        "weight_hours": problem.class_weight[k],
        "staff_id": problem.staff_ids[problem.edge_staff],
        "probability": pi,
        "expected_cases": design.count(),
    })
    return table[design.units > 0].reset_index(drop=True)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal)."""
    v = np.sort(values)
    n = len(v)
    if n == 0 or v.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * v.sum()))


BALANCE_KEYS = ("max_utilisation", "min_utilisation", "mean_utilisation", "spread", "gini",
                "max_utilisation_before", "target_max_utilisation", "target_min_utilisation",
                "max_distance_from_target_hours", "mean_distance_from_target_hours",
                "max_distance_from_target_utilisation")
"""What `balance_metrics` returns."""


def balance_metrics(problem: Problem, balance: Balance, assigned: np.ndarray) -> dict:
    """Utilisation spread of the realised plan and its distance from the leximin targets."""
    on = problem.capacity > 0
    u = utilisation(problem, assigned)[on]
    before = utilisation(problem, np.zeros(problem.n_staff))[on]
    target = balance.target_utilisation[on]
    gap_hours = (assigned - balance.load)[on]
    if not on.any():
        return {}
    return {
        "max_utilisation": float(u.max()),
        "min_utilisation": float(u.min()),
        "mean_utilisation": float(u.mean()),
        "spread": float(u.max() - u.min()),
        "gini": gini(u),
        "max_utilisation_before": float(before.max()),
        "target_max_utilisation": float(target.max()),
        "target_min_utilisation": float(target.min()),
        "max_distance_from_target_hours": float(np.abs(gap_hours).max()),
        "mean_distance_from_target_hours": float(np.abs(gap_hours).mean()),
        "max_distance_from_target_utilisation": float(np.abs(u - target).max()),
    }


def randomness_metrics(problem: Problem, design: Design) -> dict:
    """How unpredictable the lottery is, per item (see `item_rows`)."""
    if len(problem.item_class) == 0:  # nothing was drawn (a rebalance that moves nothing)
        return {}
    rows = item_rows(problem, design)
    mean = lambda key: float(rows[key][1] @ rows[key][0] / rows[key][1].sum())  # noqa: E731
    collision, weight = rows["collision"]
    item_cases = np.bincount(problem.case_item, minlength=len(problem.item_class))
    class_cases = np.bincount(problem.item_class, weights=item_cases, minlength=problem.n_classes)
    pooled_over = rows["max"][0][problem.n_classes:] > design.cap[problem.item_class[problem.pooled_item]] + 1e-6
    over_pooled = int(item_cases[problem.pooled_item][pooled_over].sum())
    return {
        "max_probability": float(rows["max"][0][weight > 0].max(initial=0.0)),
        "mean_max_probability": mean("max"),
        "support_size": int(rows["support"][1] @ rows["support"][0]),
        "mean_entropy": mean("entropy"),
        "mean_effective_candidates": float(weight @ (1.0 / np.where(collision > 0, collision, 1.0)) / weight.sum()),
        "expected_overlap": mean("collision"),
        "cases_cap_relaxed_by_eligibility": int(class_cases[design.cap > design.max_probability].sum()),
        "cases_over_cap_by_balance": int(class_cases[design.over_cap].sum()) + over_pooled,
        "pooled_items": int(len(problem.pooled_item)),
    }


def item_rows(problem: Problem, design: Design) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per item, `collision` (Σπ²), `entropy`, `max` (largest π) and `support` (prosecutors with
    π > 0), each as (values, weights): one value per class weighted by its rounded items, which
    share the class's π row, then one per pooled item (weight 1), which has its class's row without
    its exclusions, rescaled (closed forms below)."""
    pi = design.probability(problem)
    k = problem.edge_class
    per_class = lambda values: np.bincount(k, weights=values, minlength=problem.n_classes)  # noqa: E731
    xlogx = lambda v: np.where(v > 0, v * np.log(np.where(v > 0, v, 1.0)), 0.0)  # noqa: E731
    n = (problem.class_count - problem.class_pooled).astype(np.float64)
    max_pi = np.zeros(problem.n_classes)
    np.maximum.at(max_pi, k, pi)
    rows = {  # one value per class (weight n) ...
        "collision": (per_class(pi**2), n),
        "entropy": (-per_class(xlogx(pi)), n),
        "max": (max_pi, n),
        "support": (per_class((pi > 0).astype(np.float64)), n),
    }
    if len(problem.pooled_item):  # ... and one per pooled item (weight 1)
        x = design.count()
        s = design.pooled_scale
        m, edge = problem.pooled_edges()
        cls = problem.item_class[problem.pooled_item]
        minus = lambda values: np.bincount(m, weights=values[edge], minlength=len(s))  # noqa: E731
        ones = np.ones(len(s))
        collision = s**2 * (per_class(x**2)[cls] - minus(x**2))
        entropy = -np.log(s) - s * (per_class(xlogx(x))[cls] - minus(xlogx(x)))
        support = per_class((x > 0).astype(np.float64))[cls] - minus((x > 0).astype(np.float64))
        top = np.array([_max_outside(problem, x, i) for i in range(len(s))]) * s
        for key, value in zip(rows, (collision, entropy, top, support)):
            rows[key] = (np.r_[rows[key][0], value], np.r_[rows[key][1], ones])
    return rows


def _max_outside(problem: Problem, x: np.ndarray, m: int) -> float:
    """Largest x on pooled item m's class edges that m does not exclude."""
    k = problem.item_class[problem.pooled_item[m]]
    lo, hi = problem.class_edge_start[k], problem.class_edge_start[k + 1]
    xs = x[lo:hi].copy()
    excl = problem.pooled_excl_staff[problem.pooled_excl_start[m] : problem.pooled_excl_start[m + 1]]
    xs[problem.edge_index(np.full(len(excl), k), excl) - lo] = 0.0
    return float(xs.max(initial=0.0))
