"""Random numeric problems for property tests of the balance and lottery steps (no files)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from balancer.problem import Problem


def make_problem(capacity, base_load, classes) -> Problem:
    """`classes`: list of (weight, count, eligible staff indices); one case per item."""
    P = len(capacity)
    weights = np.array([c[0] for c in classes], dtype=float)
    counts = np.array([c[1] for c in classes], dtype=np.int64)
    eligible = [sorted(set(c[2])) for c in classes]
    item_class = np.repeat(np.arange(len(classes)), counts)
    n = len(item_class)
    edge_class = np.concatenate([[k] * len(e) for k, e in enumerate(eligible)]).astype(np.int64)
    edge_staff = np.concatenate([e for e in eligible]).astype(np.int64)
    start = np.r_[0, np.cumsum([len(e) for e in eligible])].astype(np.int64)
    type_eligible = np.zeros((len(classes), P), dtype=bool)  # one case type per class
    type_eligible[edge_class, edge_staff] = True
    no_exclusions = np.empty(n, dtype=object)
    no_exclusions.fill(())
    return Problem(
        staff_ids=np.array([f"P{p}" for p in range(P)], dtype=object),
        capacity=np.asarray(capacity, dtype=float),
        base_load=np.asarray(base_load, dtype=float),
        type_ids=np.array([f"k{k}" for k in range(len(classes))], dtype=object),
        type_specialisation=np.full(len(classes), None, dtype=object),
        type_min_grade=np.full(len(classes), None, dtype=object),
        type_specialists=np.full(len(classes), P, dtype=np.int64),
        type_eligible=type_eligible,
        case_ids=np.array([f"C{i}" for i in range(n)], dtype=object),
        case_type=np.array([f"k{k}" for k in item_class], dtype=object),
        case_weight=weights[item_class],
        case_group=np.full(n, None, dtype=object),
        case_excluded=no_exclusions,
        case_holder=np.full(n, -1, dtype=np.int64),
        case_item=np.arange(n, dtype=np.int64),
        item_class=item_class,
        class_weight=weights,
        class_count=counts,
        class_label=np.array([f"k{k}" for k in range(len(classes))], dtype=object),
        edge_class=edge_class,
        edge_staff=edge_staff,
        class_edge_start=start,
        pooled_item=np.zeros(0, np.int64),
        pooled_excl_start=np.zeros(1, np.int64),
        pooled_excl_staff=np.zeros(0, np.int64),
    )


@st.composite
def problems(draw, max_staff: int = 7, max_classes: int = 6, max_count: int = 6):
    """Small random problems with uneven capacities, base loads and eligibility."""
    P = draw(st.integers(2, max_staff))
    capacity = draw(st.lists(st.integers(10, 120), min_size=P, max_size=P))
    base = draw(st.lists(st.integers(0, 40), min_size=P, max_size=P))
    n_classes = draw(st.integers(1, max_classes))
    classes = []
    for _ in range(n_classes):
        weight = draw(st.sampled_from([1.0, 2.0, 3.5, 5.0, 8.0, 13.0]))
        count = draw(st.integers(1, max_count))
        eligible = draw(st.lists(st.integers(0, P - 1), min_size=1, max_size=P, unique=True))
        classes.append((weight, count, eligible))
    return make_problem(capacity, base, classes)


def item_probabilities(problem: Problem, design) -> np.ndarray:
    """(items, staff) dense π, built from the definitions: a rounded item has its class's π row;
    a pooled item has its class's expected counts outside its exclusions, normalised to one."""
    P = problem.n_staff
    by_class = np.zeros((problem.n_classes, P))
    by_class[problem.edge_class, problem.edge_staff] = design.probability(problem)
    pi = by_class[problem.item_class]
    counts = np.zeros((problem.n_classes, P))
    counts[problem.edge_class, problem.edge_staff] = design.count()
    for m, item in enumerate(problem.pooled_item):
        row = counts[problem.item_class[item]].copy()
        start, stop = problem.pooled_excl_start[m], problem.pooled_excl_start[m + 1]
        row[problem.pooled_excl_staff[start:stop]] = 0.0
        pi[item] = row / row.sum()
    return pi


def assert_same_problem(a: Problem, b: Problem) -> None:
    """Every field equal: numbers exactly, ids and labels as Python values."""
    for f in dataclasses.fields(Problem):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.shape == y.shape, f.name
        if x.dtype == object:
            assert x.tolist() == y.tolist(), f.name
        else:
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
