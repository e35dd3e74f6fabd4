"""Compile step: a validated `Scenario` becomes a numeric `Problem`.

The unit of allocation is an *item*: a single case, or a `group` of related cases that must go to
one prosecutor together. Items with the same eligible set and the same weight are interchangeable,
so they are counted into *classes*; every later step works on class × prosecutor *edges*, never on
case × prosecutor pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from balancer.errors import InputError
from balancer.scenario import Scenario
from balancer.scenario.capacity import DAYS_PER_YEAR, staff_capacity  # noqa: F401 - re-exported
from balancer.scenario.canonical import id_order

POOL_MIN_STAFF = 64
"""Classes with more eligible prosecutors than this keep their conflicted cases *pooled*.

A case with exclusions is exact and simplest as a class of its own, but then it costs one edge
per eligible prosecutor: with 1 % conflicts at 100k cases × 2,000 staff that is over a million
edges. In a large class the conflicted cases stay in the class instead, and cost in proportion to
their exclusions (see `pooled_rows` and `balancer.lottery`)."""

POOL_MAX_SHARE = 0.25
"""Pool only while conflicted cases are at most this share of their class (see `pooled_rows`)."""


@dataclass(frozen=True)
class Problem:
    """Plain arrays; P staff, T case types, N cases, I items, K classes, E class→staff edges.

    The fields up to `case_holder` are the scenario as arrays (`GIVEN_FIELDS`, read once by
    `compile_problem`); the ones after are compiled from them (`_compile`). Checks, rebalancing
    and plans read only these arrays, never the scenario."""

    staff_ids: np.ndarray
    """(P,) staff ids, sorted (code-point order; see `compile_problem`)."""
    capacity: np.ndarray
    """(P,) hours available in the period (0 for someone away the whole period)."""
    base_load: np.ndarray
    """(P,) hours already committed (`current_load_hours`)."""
    type_ids: np.ndarray
    """(T,) case type ids, in the workload model's order (the rows of `type_eligible`)."""
    type_specialisation: np.ndarray
    """(T,) object: the specialisation a type needs, None if it needs none."""
    type_min_grade: np.ndarray
    """(T,) object: the lowest grade that may take a type, None if any grade may."""
    type_specialists: np.ndarray
    """(T,) prosecutors who hold the type's specialisation, whatever their grade or time (P when
    it needs none)."""
    type_eligible: np.ndarray
    """(T, P) bool: may take a case of the type: holds its specialisation, has its minimum grade
    and has time in the period (before groups and exclusions; see `type_eligibility`)."""
    case_ids: np.ndarray
    """(N,) case ids, sorted (code-point order; see `compile_problem`)."""
    case_type: np.ndarray
    """(N,) case type id of each case."""
    case_weight: np.ndarray
    """(N,) hours of each case (its override, else its type's weight)."""
    case_group: np.ndarray
    """(N,) object: the group a case must go with, None when it is not in one."""
    case_excluded: np.ndarray
    """(N,) object: the staff ids a case excludes (conflicts of interest), a tuple; () for none."""
    case_holder: np.ndarray
    """(N,) staff index of the case's holder (`assigned_to`); -1 for a case nobody holds."""
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
    pooled_item: np.ndarray
    """(M,) items that stay in their (large) class although they exclude some of its staff."""
    pooled_excl_start: np.ndarray
    """(M+1,) the staff pooled item m excludes are `pooled_excl_staff[start[m]:start[m+1]]`."""
    pooled_excl_staff: np.ndarray
    """Excluded staff of the pooled items, each a member of its class's eligible set."""

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
    def case_holder_id(self) -> np.ndarray:
        """(N,) object: the staff id of each case's holder, None for a case nobody holds."""
        held = self.case_holder >= 0
        out = np.full(len(self.case_holder), None, dtype=object)
        out[held] = self.staff_ids[self.case_holder[held]]
        return out

    @property
    def class_hours(self) -> np.ndarray:
        """(K,) total hours of each class."""
        return self.class_weight * self.class_count

    @property
    def class_degree(self) -> np.ndarray:
        """(K,) number of eligible prosecutors of each class."""
        return np.diff(self.class_edge_start)

    @property
    def class_pooled(self) -> np.ndarray:
        """(K,) number of pooled (conflicted) items in each class."""
        return np.bincount(self.item_class[self.pooled_item], minlength=self.n_classes)

    def edge_index(self, cls: np.ndarray, staff: np.ndarray) -> np.ndarray:
        """Edge of each (class, staff) pair; the pair must be an edge."""
        key = self.edge_class * self.n_staff + self.edge_staff  # sorted: class, then staff
        return np.searchsorted(key, np.asarray(cls) * self.n_staff + np.asarray(staff))

    def type_index(self, types) -> np.ndarray:
        """Row of `type_ids` (and of `type_eligible`) of each given case type id."""
        return pd.Index(self.type_ids).get_indexer(types)

    def restrict(self, cases: np.ndarray, extra_base_load: np.ndarray) -> Problem:
        """The problem of `cases` ((N,) bool) alone, allocated afresh: nobody holds them any more,
        and each prosecutor's base load grows by `extra_base_load` (P,) hours (say, the cases that
        stay with their holders). Compiled as `compile_problem` compiles a scenario of just these
        cases: the same items and classes, in the same order."""
        given = {name: getattr(self, name) for name in GIVEN_FIELDS}
        given.update({name: given[name][cases] for name in CASE_FIELDS})
        given["case_holder"] = np.full(len(given["case_ids"]), -1, dtype=np.int64)
        given["base_load"] = self.base_load + extra_base_load
        return _compile(**given)

    def without_staff(self, staff: np.ndarray) -> Problem:
        """The same problem with the prosecutors `staff` ((P,) bool) taking none of its cases:
        their edges dropped, every array else in its place (classes are compiled again)."""
        given = {name: getattr(self, name) for name in GIVEN_FIELDS}
        given["type_eligible"] = given["type_eligible"] & ~staff
        return _compile(**given)

    def pooled_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(item number m, edge) for every (pooled item, excluded prosecutor) pair."""
        counts = np.diff(self.pooled_excl_start)
        m = np.repeat(np.arange(len(self.pooled_item)), counts)
        cls = self.item_class[self.pooled_item[m]]
        return m, self.edge_index(cls, self.pooled_excl_staff)


CASE_FIELDS = ("case_ids", "case_type", "case_weight", "case_group", "case_excluded", "case_holder")
"""The given fields with one entry per case."""

GIVEN_FIELDS = ("staff_ids", "capacity", "base_load", "type_ids", "type_specialisation", "type_min_grade",
                "type_specialists", "type_eligible", *CASE_FIELDS)
"""The `Problem` fields read from the scenario; every other field is compiled from these."""


def pooled_rows(problem: Problem) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows `A x ≤ rhs` (x: expected items per edge) that keep pooled exclusions drawable.

    For each pooled item c of class k: Σ_{p ∈ X_c} x_kp ≤ n_k − M_k, where M_k is the number of
    pooled items in k. This lets each conflicted case take the class's own distribution outside
    its exclusions, π_cp = x_kp / (n_k − x_k(X_c)), with what is left for the other cases never
    negative (Σ_c 1/(n_k − x_k(X_c)) ≤ M_k / M_k = 1). It asks a little more than Hall's
    condition (n_k − #cases excluding all of X_c), which is why pooling is kept to classes where
    conflicts are a small share (POOL_MAX_SHARE).
    """
    m, edge = problem.pooled_edges()
    rows = sp.csr_matrix((np.ones(len(m)), (m, edge)), shape=(len(problem.pooled_item), problem.n_edges))
    cls = problem.item_class[problem.pooled_item]
    rhs = (problem.class_count - problem.class_pooled)[cls].astype(np.float64)
    return rows, rhs


def compile_problem(scenario: Scenario, *, allow_empty: bool = False) -> Problem:
    """Turn a scenario into capacity/base-load vectors and case classes with their eligible staff.

    Staff and cases are put in id order first (code-point order, `id_order`), so that nothing after
    this depends on the order of the rows in the files: the same inputs and seed give the same draw
    however the rows are shuffled. `allow_empty`: a problem with no cases is fine (a rebalance where
    nothing needs drawing)."""
    if scenario.cases.empty and not allow_empty:
        raise InputError(
            "the scenario has no cases to allocate (a `caseload` alone is for staffing models)",
            file=scenario.path, field="cases", expected="a `cases` list or table with at least one case",
        )
    scenario = _in_id_order(scenario)
    capacity = staff_capacity(scenario)
    eligible, specialists = _type_rules(scenario, capacity)
    staff = scenario.staff
    cases = scenario.cases
    types = scenario.model.case_types
    type_weight = {t.id: t.weight_hours for t in types}
    assigned = cases["assigned_to"]
    holder = pd.Index(staff["id"]).get_indexer(assigned.to_numpy(dtype=object))
    holder[assigned.isna().to_numpy()] = -1
    return _compile(
        staff_ids=staff["id"].to_numpy(dtype=object),
        capacity=capacity,
        base_load=staff["current_load_hours"].to_numpy(np.float64),
        type_ids=np.array([t.id for t in types], dtype=object),
        type_specialisation=np.array([t.specialisation for t in types], dtype=object),
        type_min_grade=np.array([t.min_grade for t in types], dtype=object),
        type_specialists=specialists,
        type_eligible=eligible,
        case_ids=cases["id"].to_numpy(dtype=object),
        case_type=cases["type"].to_numpy(dtype=object),
        case_weight=cases["weight_hours"].fillna(cases["type"].map(type_weight)).to_numpy(np.float64),
        case_group=cases["group"].to_numpy(dtype=object),
        case_excluded=cases["excluded"].to_numpy(dtype=object),
        case_holder=holder.astype(np.int64),
    )


def _in_id_order(scenario: Scenario) -> Scenario:
    """The scenario with its staff and case rows sorted by id (itself when they already are)."""
    staff_order, case_order = id_order(scenario.staff["id"]), id_order(scenario.cases["id"])
    if staff_order is None and case_order is None:
        return scenario
    rows = {}
    for name, order in (("staff", staff_order), ("cases", case_order)):
        if order is not None:
            rows[name] = getattr(scenario, name).iloc[order].reset_index(drop=True)
    return replace(scenario, **rows)


def _compile(**given: np.ndarray) -> Problem:
    """Items, classes and edges of the given fields (`GIVEN_FIELDS`): the one compilation path,
    for a scenario (`compile_problem`) and for a part of a problem (`Problem.restrict`)."""
    type_idx = pd.Index(given["type_ids"]).get_indexer(given["case_type"])
    items = _items(given, type_idx)
    return Problem(**given, **_classes(given, items))


def type_eligibility(scenario: Scenario, capacity: np.ndarray) -> np.ndarray:
    """(types, P) bool: holds the specialisation, has the minimum grade, has time in the period."""
    return _type_rules(scenario, capacity)[0]


def _type_rules(scenario: Scenario, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`type_eligibility`, and for each type how many prosecutors hold its specialisation (all of
    them when it needs none)."""
    fails = type_rule_failures(scenario, capacity)
    eligible = ~(fails["time"] | fails["specialisation"] | fails["grade"])
    return eligible, (~fails["specialisation"]).sum(axis=1).astype(np.int64)


def type_rule_failures(scenario: Scenario, capacity: np.ndarray) -> dict[str, np.ndarray]:
    """(types, P) bool for each rule a prosecutor may fail for a case type, in the scenario's staff
    order: `time` (no time in the period), `specialisation` (does not hold the type's), `grade`
    (below the type's minimum). Eligible: failing none (`type_eligibility`)."""
    staff, model = scenario.staff, scenario.model
    rank = {g: i for i, g in enumerate(model.grades)}
    staff_rank = staff["grade"].map(lambda g: rank.get(g, -1) if g is not None else -1).to_numpy(np.int64)
    holds = staff["specialisations"].map(frozenset)
    T, P = len(model.case_types), len(staff)
    fails = {"time": np.broadcast_to(capacity <= 0, (T, P)).copy(),
             "specialisation": np.zeros((T, P), dtype=bool), "grade": np.zeros((T, P), dtype=bool)}
    for k, t in enumerate(model.case_types):
        if t.specialisation is not None:
            fails["specialisation"][k] = ~holds.map(lambda s, spec=t.specialisation: spec in s).to_numpy(bool)
        if t.min_grade is not None:
            fails["grade"][k] = staff_rank < rank[t.min_grade]
    return fails


@dataclass
class _Items:
    case_item: np.ndarray  # (N,) item of each case
    row_key: np.ndarray  # (I,) index into `rows`: the item's eligible set before exclusions
    weight: np.ndarray  # (I,) hours of the item
    label: np.ndarray  # (I,) description for messages
    rows: list  # distinct eligible sets, (P,) bool each
    excluded: dict  # item -> staff indices it excludes, within its eligible set (non-empty only)


class _Rows:
    """Distinct eligible sets, numbered as they are first seen."""

    def __init__(self, first: np.ndarray) -> None:
        self.rows = list(first)
        self.index = {row.tobytes(): i for i, row in enumerate(first)}

    def key(self, row: np.ndarray) -> int:
        k = row.tobytes()
        if k not in self.index:
            self.index[k] = len(self.rows)
            self.rows.append(row)
        return self.index[k]


def _items(given: dict, type_idx: np.ndarray) -> _Items:
    """Single cases keep their type's eligible set; a group gets the intersection of its members'.

    Only the few cases in a group or with exclusions are handled one by one; the rest is vectorised.
    """
    eligible_by_type = given["type_eligible"]
    weight = given["case_weight"]
    case_type = given["case_type"]
    staff_pos = pd.Index(given["staff_ids"])
    n = len(given["case_ids"])
    excluded = given["case_excluded"]
    has_excl = np.fromiter(map(len, excluded), dtype=np.int64, count=n) > 0
    group = given["case_group"]
    in_group = pd.notna(group) & (group != None)  # noqa: E711 - object column holds None

    case_item = np.arange(n, dtype=np.int64)
    row_key = type_idx.copy()
    item_weight = weight.copy()
    labels = np.asarray(case_type, dtype=object).copy()
    keep = np.ones(n, dtype=bool)  # items are numbered by their first case
    rows = _Rows(eligible_by_type)
    gone: dict[int, np.ndarray] = {}

    alone = np.flatnonzero(has_excl & ~in_group)
    if len(alone):  # one look-up for all their excluded ids (one per case costs ~0.5 ms each)
        flat = staff_pos.get_indexer([s for c in alone for s in excluded[c]])
        ends = np.cumsum([len(excluded[c]) for c in alone])
        gone.update(zip(alone.tolist(), np.split(flat, ends[:-1])))

    if in_group.any():
        members = pd.Series(np.flatnonzero(in_group)).groupby(group[in_group], sort=False)
        for name, idx in members:
            idx = idx.to_numpy()
            first = idx[0]
            case_item[idx] = first
            keep[idx[1:]] = False
            row_key[first] = rows.key(np.logical_and.reduce(eligible_by_type[type_idx[idx]], axis=0))
            item_weight[first] = weight[idx].sum()
            types = "+".join(sorted({str(t) for t in case_type[idx]}))
            labels[first] = f"group {name} ({len(idx)} cases: {types})"
            excl = sorted({s for c in idx for s in excluded[c]})
            if excl:
                gone[first] = staff_pos.get_indexer(excl)

    # Renumber items 0..I-1 in order of their first case; keep only exclusions that matter.
    new_id = np.cumsum(keep) - 1
    excluded_items = {}
    for first, staff in gone.items():
        staff = np.unique(staff[rows.rows[row_key[first]][staff]])
        if len(staff):
            excluded_items[int(new_id[first])] = staff
    return _Items(
        case_item=new_id[case_item],
        row_key=row_key[keep],
        weight=item_weight[keep],
        label=labels[keep],
        rows=rows,
        excluded=excluded_items,
    )


def _factorize_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs numbered in order of first appearance, as `MultiIndex.factorize`
    numbers them, without building a tuple per pair: each pair's number, and each number's a and b."""
    code_a, unique_a = pd.factorize(a)
    code_b, unique_b = pd.factorize(b)
    width = max(len(unique_b), 1)
    codes, pairs = pd.factorize(code_a.astype(np.int64) * width + code_b)
    return codes.astype(np.int64), unique_a[pairs // width], unique_b[pairs % width]


def _pooling(items: _Items, staff_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decide which conflicted items stay pooled in their class; the others get a class (and an
    eligible set) of their own. Returns the items' final row keys and the pooled items."""
    base, _, _ = _factorize_pairs(items.row_key, items.weight)
    n_base = np.bincount(base)
    conflicted = np.array(sorted(items.excluded), dtype=np.int64)
    m_base = np.bincount(base[conflicted], minlength=len(n_base))
    degree = np.array([items.rows.rows[r].sum() for r in items.row_key[conflicted]], dtype=np.int64)
    sizes = np.array([len(items.excluded[i]) for i in conflicted], dtype=np.int64)
    b = base[conflicted]
    pooled = (degree > POOL_MIN_STAFF) & (m_base[b] <= POOL_MAX_SHARE * n_base[b]) & (2 * sizes < degree)
    row_key = items.row_key.copy()
    for i in conflicted[~pooled]:
        row = items.rows.rows[row_key[i]].copy()
        row[items.excluded[i]] = False
        row_key[i] = items.rows.key(row)
        items.label[i] = f"{items.label[i]} excluding {', '.join(map(str, staff_ids[items.excluded[i]]))}"
    return row_key, conflicted[pooled]


def _classes(given: dict, items: _Items) -> dict[str, np.ndarray]:
    """Count interchangeable items (same eligible set, same weight) into classes: the compiled
    fields of the `Problem`, from `case_item` on."""
    row_key, pooled = _pooling(items, given["staff_ids"])
    item_class, class_row, class_weight = _factorize_pairs(row_key, items.weight)
    class_count = np.bincount(item_class, minlength=len(class_row)).astype(np.int64)
    first_item = np.full(len(class_row), -1, dtype=np.int64)
    first_item[item_class[::-1]] = np.arange(len(item_class))[::-1]

    rows = np.array(items.rows.rows, dtype=bool).reshape(len(items.rows.rows), -1)
    class_rows = rows[class_row]
    edge_class, edge_staff = np.nonzero(class_rows)  # row-major: sorted by class, then staff
    start = np.zeros(len(class_row) + 1, dtype=np.int64)
    np.cumsum(class_rows.sum(axis=1), out=start[1:])
    excl = [items.excluded[i] for i in pooled]
    return dict(
        case_item=items.case_item,
        item_class=item_class,
        class_weight=class_weight,
        class_count=class_count,
        class_label=items.label[first_item],
        edge_class=edge_class.astype(np.int64),
        edge_staff=edge_staff.astype(np.int64),
        class_edge_start=start,
        pooled_item=pooled,
        pooled_excl_start=np.r_[0, np.cumsum([len(x) for x in excl])].astype(np.int64),
        pooled_excl_staff=np.concatenate(excl).astype(np.int64) if excl else np.zeros(0, np.int64),
    )
