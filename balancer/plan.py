"""Plan step: a drawn assignment becomes tables (pandas) and metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancer.balance import Balance, utilisation
from balancer.lottery import Design
from balancer.problem import Problem


@dataclass(frozen=True)
class Plan:
    assignments: pd.DataFrame
    """One row per case: case_id, staff_id, weight_hours, probability (π of that pair)."""
    staff: pd.DataFrame
    """One row per prosecutor: capacities, loads before/after, utilisation and its leximin target."""
    metrics: dict
    """Balance and randomness metrics (see `balance_metrics`, `randomness_metrics`)."""


def make_plan(problem: Problem, balance: Balance, design: Design, item_staff: np.ndarray) -> Plan:
    case_staff = item_staff[problem.case_item]
    pi = design.probability(problem)
    edge_of = pd.Series(np.arange(problem.n_edges),
                        index=problem.edge_class * problem.n_staff + problem.edge_staff)
    case_class = problem.item_class[problem.case_item]
    case_edge = edge_of.reindex(case_class * problem.n_staff + case_staff).to_numpy()
    assignments = pd.DataFrame({
        "case_id": problem.case_ids,
        "staff_id": problem.staff_ids[case_staff],
        "weight_hours": problem.case_weight,
        "probability": pi[case_edge],
    })
    assigned = np.bincount(case_staff, weights=problem.case_weight, minlength=problem.n_staff)
    u = utilisation(problem, assigned)
    staff = pd.DataFrame({
        "staff_id": problem.staff_ids,
        "capacity_hours": problem.capacity,
        "base_load_hours": problem.base_load,
        "assigned_hours": assigned,
        "load_hours": problem.base_load + assigned,
        "utilisation": u,
        "target_utilisation": balance.target_utilisation,
        "cases": np.bincount(case_staff, minlength=problem.n_staff),
    })
    metrics = {
        "n_cases": int(len(problem.case_ids)),
        "n_items": int(len(problem.item_class)),
        "n_staff": int(problem.n_staff),
        "n_classes": int(problem.n_classes),
        "n_edges": int(problem.n_edges),
        **balance_metrics(problem, balance, assigned),
        **randomness_metrics(problem, design),
    }
    return Plan(assignments=assignments, staff=staff, metrics=metrics)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal)."""
    v = np.sort(values)
    n = len(v)
    if n == 0 or v.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * v.sum()))


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
    """How unpredictable the lottery is, per case (every case of a class shares its π row)."""
    pi = design.probability(problem)
    k = problem.edge_class
    n = problem.class_count.astype(np.float64)
    items = n.sum()
    per_class = lambda values: np.bincount(k, weights=values, minlength=problem.n_classes)  # noqa: E731
    collision = per_class(pi**2)
    entropy = per_class(np.where(pi > 0, -pi * np.log(np.where(pi > 0, pi, 1.0)), 0.0))
    max_pi = np.zeros(problem.n_classes)
    np.maximum.at(max_pi, k, pi)
    support = per_class((pi > 0).astype(np.float64))
    return {
        "max_probability": float(pi.max(initial=0.0)),
        "mean_max_probability": float(n @ max_pi / items),
        "support_size": int(n @ support),
        "mean_entropy": float(n @ entropy / items),
        "mean_effective_candidates": float(n @ (1.0 / np.where(collision > 0, collision, 1.0)) / items),
        "expected_overlap": float(n @ collision / items),
        "items_cap_relaxed_by_eligibility": int(n[design.cap > design.max_probability].sum()),
        "items_over_cap_by_balance": int(n[design.over_cap].sum()),
    }
