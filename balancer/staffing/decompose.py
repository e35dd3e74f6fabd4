"""Who may take which work, and the independent parts of a staffing model.

A demand row (type × office) may go to a receiver (a group of staff in post, or a hire profile)
that is eligible for the type and in the row's office; a row without an office may go to any
office. The rows and receivers form a bipartite graph; its connected components share no work, so
each is a model of its own and the answers simply add up. Offices are separate parts unless work
without an office joins them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Edges:
    """Every eligible (demand row, receiver) pair, as two aligned index arrays."""

    demand: np.ndarray
    receiver: np.ndarray
    n_demand: int
    n_receivers: int


@dataclass(frozen=True)
class Part:
    """One independent part: its demand rows, receivers and edges (indices into the whole)."""

    demand: np.ndarray
    receivers: np.ndarray
    edges: np.ndarray


def edges(demand: pd.DataFrame, receivers: pd.DataFrame) -> Edges:
    """The eligible pairs, read off each receiver's eligible types, so in time linear in them
    (no demand row is compared with every receiver)."""
    n_types = len(receivers["eligible"].iat[0]) if len(receivers) else 0
    elig = np.array(list(receivers["eligible"]), dtype=bool).reshape(len(receivers), n_types)
    k, t = np.nonzero(elig)
    codes, labels = pd.factorize(pd.concat([demand["office"], receivers["office"]], ignore_index=True))
    d_code, r_code = codes[:len(demand)], codes[len(demand):]  # -1: no office
    row_of = np.full((len(labels) + 1) * max(n_types, 1), -1)  # (office, type) → demand row
    any_of = np.full(max(n_types, 1), -1)  # type → demand row without an office
    own = d_code >= 0
    row_of[d_code[own] * n_types + demand["t"].to_numpy()[own]] = np.flatnonzero(own)
    any_of[demand["t"].to_numpy()[~own]] = np.flatnonzero(~own)
    local = np.where(r_code[k] >= 0, row_of[np.maximum(r_code[k], 0) * n_types + t], -1)
    anywhere = any_of[t]
    d = np.concatenate([local[local >= 0], anywhere[anywhere >= 0]])
    r = np.concatenate([k[local >= 0], k[anywhere >= 0]])
    return Edges(d, r, len(demand), len(receivers))


def parts(e: Edges, decompose: bool = True) -> list[Part]:
    """The connected components that hold demand (receivers with nothing to take are left out);
    with `decompose=False`, everything as one part (the monolithic model, for comparison)."""
    if not decompose:
        return [Part(np.arange(e.n_demand), np.unique(e.receiver), np.arange(len(e.demand)))]
    n = e.n_demand + e.n_receivers
    graph = sp.coo_matrix((np.ones(len(e.demand)), (e.demand, e.n_demand + e.receiver)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    by_label = _members(label)
    edge_groups = _members(label[e.demand])
    out = []
    for lab in np.unique(label[:e.n_demand]):
        nodes = by_label[lab]
        out.append(Part(nodes[nodes < e.n_demand], nodes[nodes >= e.n_demand] - e.n_demand,
                        edge_groups.get(lab, np.array([], dtype=np.int64))))
    return out


def _members(label: np.ndarray) -> dict[int, np.ndarray]:
    """label → the sorted indices carrying it, in one sort."""
    order = np.argsort(label, kind="stable")
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    return {int(label[chunk[0]]): chunk for chunk in np.split(order, cuts) if len(chunk)}


def positions(found: list[Part], e: Edges) -> tuple[np.ndarray, np.ndarray]:
    """Each demand row's and receiver's position within its part (-1: in none), computed once so
    that building a part's model costs time in the part's size only."""
    d, r = np.full(e.n_demand, -1), np.full(e.n_receivers, -1)
    for p in found:
        d[p.demand] = np.arange(len(p.demand))
        r[p.receivers] = np.arange(len(p.receivers))
    return d, r
