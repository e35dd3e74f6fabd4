"""Compile step: a validated `Scenario` becomes a numeric `Problem`.

The unit of allocation is an *item*: a single case, or a `group` of related cases that must go to
one prosecutor together. Items with the same eligible set and the same weight are interchangeable,
so they are counted into *classes*; every later step works on class × prosecutor *edges*, never on
case × prosecutor pairs (DESIGN.md, "The mathematics", point 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from balancer.scenario import Scenario

DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class Problem:
    """Plain arrays; P staff, N cases, I items, K classes, E class→staff edges."""

    staff_ids: np.ndarray
    """(P,) staff ids, in scenario order."""
    capacity: np.ndarray
    """(P,) hours available in the period (0 for someone away the whole period)."""
    base_load: np.ndarray
    """(P,) hours already committed (`current_load_hours`)."""
    case_ids: np.ndarray
    """(N,) case ids, in scenario order."""
    case_type: np.ndarray
    """(N,) case type id of each case."""
    case_weight: np.ndarray
    """(N,) hours of each case (its override, else its type's weight)."""
    case_item: np.ndarray
    """(N,) the item each case belongs to."""
    item_class: np.ndarray
    """(I,) the class of each item."""
    class_weight: np.ndarray
    """(K,) hours of one item of the class."""
    class_count: np.ndarray
    """(K,) number of items in the class."""
    class_label: np.ndarray
    """(K,) what the class is, for messages: case type(s), group, exclusions."""
    edge_class: np.ndarray
    """(E,) class of each edge; edges are sorted by class."""
    edge_staff: np.ndarray
    """(E,) prosecutor of each edge."""
    class_edge_start: np.ndarray
    """(K+1,) edges of class k are `edge_class_start[k]:edge_class_start[k+1]`."""

    @property
    def n_staff(self) -> int:
        return len(self.staff_ids)

    @property
    def n_classes(self) -> int:
        return len(self.class_weight)

    @property
    def n_edges(self) -> int:
        return len(self.edge_class)

    @property
    def class_hours(self) -> np.ndarray:
        """(K,) total hours of each class."""
        return self.class_weight * self.class_count

    @property
    def class_degree(self) -> np.ndarray:
        """(K,) number of eligible prosecutors of each class."""
        return np.diff(self.class_edge_start)


def compile_problem(scenario: Scenario) -> Problem:
    """Turn a scenario into capacity/base-load vectors and case classes with their eligible staff."""
    capacity = staff_capacity(scenario)
    staff = scenario.staff
    cases = scenario.cases
    eligible_by_type = type_eligibility(scenario, capacity)
    type_pos = {t.id: i for i, t in enumerate(scenario.model.case_types)}
    type_weight = {t.id: t.weight_hours for t in scenario.model.case_types}

    type_idx = cases["type"].map(type_pos).to_numpy(np.int64)
    weight = cases["weight_hours"].fillna(cases["type"].map(type_weight)).to_numpy(np.float64)
    staff_pos = pd.Index(staff["id"])
    items = _items(cases, type_idx, weight, eligible_by_type, staff_pos)
    return _classes(scenario, capacity, cases, type_idx, weight, eligible_by_type, items)


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


def type_eligibility(scenario: Scenario, capacity: np.ndarray) -> np.ndarray:
    """(types, P) bool: holds the specialisation, has the minimum grade, has time in the period."""
    staff = scenario.staff
    model = scenario.model
    rank = {g: i for i, g in enumerate(model.grades)}
    staff_rank = staff["grade"].map(lambda g: rank.get(g, -1) if g is not None else -1)
    staff_rank = staff_rank.to_numpy(np.int64)
    holds = staff["specialisations"].map(frozenset)
    available = capacity > 0
    rows = []
    for t in model.case_types:
        row = available.copy()
        if t.specialisation is not None:
            row &= holds.map(lambda s, spec=t.specialisation: spec in s).to_numpy(bool)
        if t.min_grade is not None:
            row &= staff_rank >= rank[t.min_grade]
        rows.append(row)
    return np.array(rows, dtype=bool).reshape(len(model.case_types), len(staff))


@dataclass
class _Items:
    case_item: np.ndarray  # (N,) item of each case
    row_key: np.ndarray  # (I,) index into `rows`: the item's eligible set
    weight: np.ndarray  # (I,) hours of the item
    label: list[str]  # (I,) description for messages
    rows: np.ndarray  # (R, P) distinct eligible sets


def _items(cases, type_idx, weight, eligible_by_type, staff_pos) -> _Items:
    """Single cases keep their type's eligible set; groups and exclusions get their own rows.

    Only the few cases in a group or with exclusions are handled one by one; the rest is vectorised.
    """
    n = len(cases)
    n_types = eligible_by_type.shape[0]
    excluded = cases["excluded"].to_numpy()
    has_excl = cases["excluded"].map(len).to_numpy() > 0
    group = cases["group"].to_numpy()
    in_group = pd.notna(group) & (group != None)  # noqa: E711 - object column holds None

    case_item = np.arange(n, dtype=np.int64)
    row_key = type_idx.copy()
    item_weight = weight.copy()
    labels = np.asarray(cases["type"].to_numpy(), dtype=object).copy()
    keep = np.ones(n, dtype=bool)  # items are numbered by their first case
    row_index: dict[bytes, int] = {eligible_by_type[t].tobytes(): t for t in range(n_types)}
    rows = list(eligible_by_type)

    def key_of(row: np.ndarray) -> int:
        k = row.tobytes()
        if k not in row_index:
            row_index[k] = len(rows)
            rows.append(row)
        return row_index[k]

    for c in np.flatnonzero(has_excl & ~in_group):
        row = eligible_by_type[type_idx[c]].copy()
        row[staff_pos.get_indexer(list(excluded[c]))] = False
        row_key[c] = key_of(row)
        dropped = sorted(set(excluded[c]))
        labels[c] = f"{labels[c]} excluding {', '.join(dropped)}"

    if in_group.any():
        members = pd.Series(np.flatnonzero(in_group)).groupby(group[in_group], sort=False)
        for name, idx in members:
            idx = idx.to_numpy()
            first = idx[0]
            row = np.logical_and.reduce(eligible_by_type[type_idx[idx]], axis=0)
            gone = {s for c in idx for s in excluded[c]}
            if gone:
                row[staff_pos.get_indexer(sorted(gone))] = False
            case_item[idx] = first
            keep[idx[1:]] = False
            row_key[first] = key_of(row)
            item_weight[first] = weight[idx].sum()
            types = "+".join(sorted({str(t) for t in cases["type"].to_numpy()[idx]}))
            labels[first] = f"group {name} ({len(idx)} cases: {types})"

    # Renumber items 0..I-1 in order of their first case.
    new_id = np.cumsum(keep) - 1
    return _Items(
        case_item=new_id[case_item],
        row_key=row_key[keep],
        weight=item_weight[keep],
        label=list(labels[keep]),
        rows=np.array(rows, dtype=bool).reshape(len(rows), eligible_by_type.shape[1]),
    )


def _classes(scenario, capacity, cases, type_idx, weight, eligible_by_type, items: _Items) -> Problem:
    """Count interchangeable items (same eligible set, same weight) into classes."""
    keys = pd.DataFrame({"row": items.row_key, "weight": items.weight})
    item_class, uniques = pd.MultiIndex.from_frame(keys).factorize()
    item_class = item_class.astype(np.int64)
    class_row = uniques.get_level_values(0).to_numpy(np.int64)
    class_weight = uniques.get_level_values(1).to_numpy(np.float64)
    class_count = np.bincount(item_class, minlength=len(class_row)).astype(np.int64)
    first_item = np.full(len(class_row), -1, dtype=np.int64)
    first_item[item_class[::-1]] = np.arange(len(item_class))[::-1]
    class_label = np.array([items.label[i] for i in first_item], dtype=object)

    class_rows = items.rows[class_row]
    edge_class, edge_staff = np.nonzero(class_rows)  # row-major: sorted by class
    start = np.zeros(len(class_row) + 1, dtype=np.int64)
    np.cumsum(class_rows.sum(axis=1), out=start[1:])
    staff = scenario.staff
    return Problem(
        staff_ids=staff["id"].to_numpy(dtype=object),
        capacity=capacity,
        base_load=staff["current_load_hours"].to_numpy(np.float64),
        case_ids=cases["id"].to_numpy(dtype=object),
        case_type=cases["type"].to_numpy(dtype=object),
        case_weight=weight,
        case_item=items.case_item,
        item_class=item_class,
        class_weight=class_weight,
        class_count=class_count,
        class_label=class_label,
        edge_class=edge_class.astype(np.int64),
        edge_staff=edge_staff.astype(np.int64),
        class_edge_start=start,
    )
