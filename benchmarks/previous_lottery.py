"""The previous lottery (design + slot-graph draw), frozen as the baseline of `balance_bench.py`.

This is `balancer/lottery.py` as of commit 6bcef82 — "today's method" before compensated rounding
(`balancer/rounding.py`) and the integral limit (`balancer/limits.py`) replaced it. It is kept here
only so that `benchmarks/balance_bench.py` can compare the two methods on the same problems; nothing
in `balancer` imports it and it is not maintained. It runs on today's `Problem`, `Balance` and
solver (`balancer.balance`, `balancer.problem`, `balancer.solver`); the code below is unchanged.

Its own docstring, as it was:

Lottery: design the probabilities π(item → prosecutor), then draw one assignment with them.

design: among fractional assignments whose loads stay within `tolerance` utilisation points of the
leximin profile, the most spread out one — minimum expected collision Σ_c Σ_p π_cp² — with
π_cp ≤ max(max_probability, 1/|E_c|) (the cap, relaxed only as far as eligibility forces; the
balance band may force more, which the design reports). One QP on classes.

draw: dependent rounding (Gandhi, Khuller, Parthasarathy, Srinivasan, JACM 2006) over a
Shmoys–Tardos slot graph (Shmoys & Tardos 1993). Guarantees, for every seed:
  * each item goes to exactly one eligible prosecutor, never to one it excludes,
  * P(item → p) = π exactly (π as gridded to 2⁻²⁰ of an item, and reported as such),
  * each prosecutor's realised load from the rounded items is within one case weight (the
    largest it may receive) of its fluid load.

Pooled items (conflicted cases kept in a large class, see `balancer.problem.POOL_MIN_STAFF`)
take their class's distribution outside their exclusions, π_cp = x_kp / (n_k − x_k(X_c)), and are
drawn by stratified sampling within their class (one uniform offset, evenly spaced points, each
point mapped through its own item's distribution): P(c → p) = π_cp exactly, and a class's M_k
pooled items spread like evenly spaced draws, not like independent ones. The rest of the class
is rounded as above on what the pooled items leave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from balancer.balance import Balance, capacity_room, flow_structure, hour_unit
from balancer.problem import Problem, pooled_rows
from balancer.solver import QP, solve_qp

GRID = 1 << 20
"""Probabilities are held as integers in units of 1/GRID of an item, so rounding is exact."""

CAP_PENALTY = 1e3
"""Price, per unit of probability, of exceeding the cap where the balance band leaves no choice."""

BAND_SLACK = 1e-7
"""Utilisation slack on the band, so tolerance 0 stays feasible after the solver's round-off."""


@dataclass(frozen=True)
class Design:
    units: np.ndarray
    """(E,) expected items of the edge's class going to its prosecutor, in 1/GRID items."""
    rounded_units: np.ndarray
    """(E,) the part of `units` that is not pooled: what dependent rounding draws."""
    pooled_scale: np.ndarray
    """(M,) 1 / (n_k − x_k(X_c)) of each pooled item: its π on a non-excluded edge is x × this."""
    cap: np.ndarray
    """(K,) the probability cap each class was held to (max_probability, or 1/|E_k| above it)."""
    over_cap: np.ndarray
    """(K,) True where the balance band forced some π above the class's cap."""
    max_probability: float
    """The policy's cap, before relaxing it where eligibility forces more."""

    def count(self) -> np.ndarray:
        """(E,) expected number of items on each edge."""
        return self.units / GRID

    def probability(self, problem: Problem) -> np.ndarray:
        """(E,) π of each edge for the class's items that are not pooled."""
        rounded = (problem.class_count - problem.class_pooled)[problem.edge_class]
        return self.rounded_units / (GRID * np.maximum(rounded, 1))

    def pooled_probability(self, m: np.ndarray, edge: np.ndarray) -> np.ndarray:
        """π of pooled item number m on `edge`, an edge of its class it does not exclude."""
        return self.count()[edge] * self.pooled_scale[m]


def design(problem: Problem, balance: Balance, *, tolerance: float, max_probability: float,
           hard_capacity: bool = False, within_share: bool = False) -> Design:
    """The most spread-out lottery whose loads stay within the band around the leximin profile.

    `within_share` (daily intake): each expected load also stays within `tolerance` × its own
    leximin share, so someone the profile gives nothing today gets nothing. Without it, a
    prosecutor above the day's water level could take up to `tolerance` of capacity more every
    day, and drift without bound; with it, the drift is at most `tolerance` of what intake adds."""
    E, K = problem.n_edges, problem.n_classes
    unit = hour_unit(problem)
    n_k = problem.class_count.astype(np.float64)
    n_e = n_k[problem.edge_class]
    cap = np.maximum(max_probability, 1.0 / np.maximum(problem.class_degree, 1))
    cap_e = cap[problem.edge_class] * n_e

    by_class, by_staff = flow_structure(problem)
    w_e = problem.class_weight[problem.edge_class] / unit
    hours = by_staff @ sp.diags(w_e)  # P×E: hours each edge's items bring to its prosecutor
    band = (tolerance + BAND_SLACK) * problem.capacity / unit
    if within_share:
        band = np.minimum(band, tolerance * balance.load / unit + BAND_SLACK * problem.capacity / unit)
    upper = balance.load / unit + band
    if hard_capacity:
        upper = np.minimum(upper, np.maximum(capacity_room(problem) / unit, balance.load / unit))
    lower = balance.load / unit - band

    # Variables: x (E, expected items per edge), s (E, items above the cap).
    I_E = sp.identity(E, format="csr")
    Z_E = sp.csr_matrix((E, E))
    zero_P = sp.csr_matrix((problem.n_staff, E))
    A_eq = sp.hstack([by_class, sp.csr_matrix((K, E))]).tocsr()
    A_le = sp.vstack(
        [
            sp.hstack([hours, zero_P]),  # load ≤ upper
            sp.hstack([-hours, zero_P]),  # load ≥ lower
            sp.hstack([-I_E, Z_E]),  # x ≥ 0
            sp.hstack([Z_E, -I_E]),  # s ≥ 0
            sp.hstack([I_E, -I_E]),  # x − s ≤ cap
        ]
    ).tocsr()
    pooled, pooled_rhs = pooled_rows(problem)
    A_le = sp.vstack([A_le, sp.hstack([pooled, sp.csr_matrix(pooled.shape)])]).tocsr()
    b_le = np.concatenate([upper, -lower, np.zeros(2 * E), cap_e, pooled_rhs])
    diag = np.concatenate([2.0 / n_e, np.zeros(E)])  # ½ Σ 2x²/n = Σ n (x/n)² = Σ_c Σ_p π²
    q = np.concatenate([np.zeros(E), CAP_PENALTY / n_e])
    solution = solve_qp(QP(diag, q, A_eq, n_k, A_le, b_le))
    units = grid_counts(problem, solution.x[:E], problem.class_count)
    rounded_units, scale = split_pooled(problem, units)
    over = np.zeros(K, dtype=bool)
    over[problem.edge_class[units > cap_e * GRID * (1 + 1e-6) + 1]] = True
    return Design(units=units, rounded_units=rounded_units, pooled_scale=scale, cap=cap,
                  over_cap=over, max_probability=max_probability)


def load_bound(problem: Problem, design: Design) -> np.ndarray:
    """(P,) hours by which a realised load may differ from the design's expected load.

    Rounded items: one case weight, the heaviest this prosecutor may receive (Shmoys–Tardos slots
    under dependent rounding). Pooled items of class k: their count at p stays within
    1 + 4 M_k δ_k items of its expectation, where δ_k = max_c x_k(X_c) / (n_k − x_k(X_c)) bounds
    how far a pooled item's distribution function is from the class's (stratified points put
    ⌊Mℓ⌋ to ⌈Mℓ⌉ of M points in any interval of length ℓ).
    """
    on = design.rounded_units > 0
    bound = np.zeros(problem.n_staff)
    np.maximum.at(bound, problem.edge_staff[on], problem.class_weight[problem.edge_class[on]])
    if len(problem.pooled_item):
        m, edge = problem.pooled_edges()
        excluded_mass = np.bincount(m, weights=design.count()[edge], minlength=len(design.pooled_scale))
        cls = problem.item_class[problem.pooled_item]
        delta = np.zeros(problem.n_classes)
        np.maximum.at(delta, cls, excluded_mass * design.pooled_scale)
        items = np.where(problem.class_pooled > 0, 1.0 + 4.0 * problem.class_pooled * delta, 0.0)
        hours = (items * problem.class_weight)[problem.edge_class]
        bound += np.bincount(problem.edge_staff, weights=hours * (design.units > 0), minlength=problem.n_staff)
    return bound


def split_pooled(problem: Problem, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the pooled items take of each edge in expectation, and what is left to round."""
    x = units / GRID
    m, edge = problem.pooled_edges()
    cls = problem.item_class[problem.pooled_item]
    excluded_mass = np.bincount(m, weights=x[edge], minlength=len(cls))
    scale = 1.0 / (problem.class_count[cls] - excluded_mass)
    # Σ_c π_c on edge e = x_e (Σ_{c in class} s_c − Σ_{c excluding e} s_c)
    per_class = np.bincount(cls, weights=scale, minlength=problem.n_classes)
    per_edge = per_class[problem.edge_class] - np.bincount(edge, weights=scale[m], minlength=len(x))
    left = problem.class_count - problem.class_pooled
    return grid_counts(problem, x * (1.0 - per_edge), left), scale


def grid_counts(problem: Problem, count: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round expected counts to 1/GRID items so that class k sums to exactly totals[k] items.

    Largest-remainder rounding within each class; the rounding moves no π by more than 2⁻²⁰.
    """
    scaled = np.maximum(count, 0.0)
    sums = np.bincount(problem.edge_class, weights=scaled, minlength=problem.n_classes)
    scaled *= (totals * GRID / np.where(sums > 0, sums, 1.0))[problem.edge_class]
    units = np.floor(scaled).astype(np.int64)
    short = totals * GRID - np.bincount(
        problem.edge_class, weights=units, minlength=problem.n_classes
    ).astype(np.int64)
    # Within each class, hand out the missing units to the largest remainders first.
    order = np.lexsort((-(scaled - units), problem.edge_class))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order)) - problem.class_edge_start[problem.edge_class[order]]
    units += rank < short[problem.edge_class]
    return units


def draw(problem: Problem, design: Design, rng: np.random.Generator) -> np.ndarray:
    """(I,) the prosecutor each item goes to, drawn with marginals exactly π."""
    won = round_slots(problem, design.rounded_units, rng)
    # Which concrete item of a class fills which of its won slots: a uniform random permutation.
    rounded = np.ones(len(problem.item_class), dtype=bool)
    rounded[problem.pooled_item] = False
    shuffled = rng.permutation(np.flatnonzero(rounded))
    shuffled = shuffled[np.argsort(problem.item_class[shuffled], kind="stable")]
    item_staff = np.empty(len(problem.item_class), dtype=np.int64)
    item_staff[shuffled] = np.repeat(problem.edge_staff, won)  # edges are sorted by class
    if len(problem.pooled_item):
        item_staff[problem.pooled_item] = problem.edge_staff[draw_pooled(problem, design, rng)]
    return item_staff


def draw_pooled(problem: Problem, design: Design, rng: np.random.Generator) -> np.ndarray:
    """(M,) the edge each pooled item takes: stratified within its class, exact per item.

    Class k's M_k pooled items get the points (U + 0..M_k−1) / M_k in random order, U uniform:
    each point alone is uniform on [0, 1), so mapping it through the item's own cumulative
    distribution gives exactly π_c; together they are evenly spread.
    """
    x = design.count()
    cum = np.cumsum(x)
    cls = problem.item_class[problem.pooled_item]
    order = rng.permutation(len(cls))
    order = order[np.argsort(cls[order], kind="stable")]
    rank = np.empty(len(cls), dtype=np.int64)
    first = np.searchsorted(cls[order], cls[order])  # position where each class's block begins
    rank[order] = np.arange(len(cls)) - first
    offset = rng.random(problem.n_classes)
    point = (offset[cls] + rank) / problem.class_pooled[cls]
    start, stop = problem.class_edge_start[cls], problem.class_edge_start[cls + 1]
    base = np.where(start > 0, cum[start - 1], 0.0)
    chosen = np.empty(len(cls), dtype=np.int64)
    m_of, excl_edge = problem.pooled_edges()
    bounds = problem.pooled_excl_start
    for m in range(len(cls)):
        skip = np.sort(excl_edge[bounds[m] : bounds[m + 1]])
        target = base[m] + point[m] / design.pooled_scale[m]  # mass to pass, excluded edges aside
        for e in skip:  # excluded edges lie in the way: step over them
            if cum[e] - x[e] <= target:
                target += x[e]
        e = int(np.searchsorted(cum[start[m] : stop[m]], target, side="right")) + start[m]
        chosen[m] = _nearest_allowed(e, start[m], stop[m], x, set(skip.tolist()))
    return chosen


def _nearest_allowed(e: int, lo: int, hi: int, x: np.ndarray, skip: set) -> int:
    """Guard against round-off at an interval's end: the nearest edge with mass, not excluded."""
    e = min(max(e, lo), hi - 1)
    for cand in list(range(e, hi)) + list(range(e - 1, lo - 1, -1)):
        if x[cand] > 0 and cand not in skip:
            return cand
    raise AssertionError("a pooled item has no edge left")  # excluded by pooled_rows


def round_slots(problem: Problem, units: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(E,) integer items per edge: dependent rounding of `units` over the slot graph."""
    if not units.any():  # nothing to draw (a rebalance that moves nothing)
        return np.zeros(len(units), dtype=np.int64)
    won, pieces = slot_graph(problem, units)
    if len(pieces[0]):
        for edge in dependent_rounding(*pieces, rng=rng):
            won[edge] += 1
    return won


def slot_graph(problem: Problem, units: np.ndarray):
    """Shmoys–Tardos slots: each prosecutor's edges, heaviest class first, packed into unit slots.

    Returns the slots every edge fills whole (already decided), and the fractional pieces:
    (class node, slot node, amount in (0, GRID), edge) — the graph left to round.
    """
    w = problem.class_weight[problem.edge_class]
    order = np.lexsort((problem.edge_class, -w, problem.edge_staff))
    order = order[units[order] > 0]
    staff, u = problem.edge_staff[order], units[order]
    end = np.cumsum(u)
    staff_start = np.r_[0, np.flatnonzero(np.diff(staff)) + 1]
    offset = np.repeat(end[staff_start] - u[staff_start], np.diff(np.r_[staff_start, len(u)]))
    end -= offset
    start = end - u
    first, last = start // GRID, (end - 1) // GRID
    head = np.minimum(end, (first + 1) * GRID) - start
    tail = np.where(last > first, end - last * GRID, 0)
    full = np.maximum(last - first - 1, 0) + (head == GRID) + (tail == GRID)

    won = np.zeros(len(units), dtype=np.int64)
    won[order] = full
    piece_slot = np.concatenate([first[head < GRID], last[(tail > 0) & (tail < GRID)]])
    piece_amount = np.concatenate([head[head < GRID], tail[(tail > 0) & (tail < GRID)]])
    piece_edge = np.concatenate([order[head < GRID], order[(tail > 0) & (tail < GRID)]])
    piece_staff = problem.edge_staff[piece_edge]
    slots_per_staff = int(end.max(initial=0)) // GRID + 2
    _, slot_node = np.unique(piece_staff * slots_per_staff + piece_slot, return_inverse=True)
    return won, (problem.edge_class[piece_edge], slot_node + problem.n_classes,
                 piece_amount, piece_edge)


def _alternate(seq: list[int], val: list[int], coin: float) -> None:
    """Shift value up on seq's even pieces and down on its odd ones (or the reverse), as far as
    the first piece reaches 0 or GRID; the direction is drawn so each piece keeps its expectation:
    +α with probability β/(α+β), −β otherwise."""
    up, down = seq[0::2], seq[1::2]
    alpha = min(min(GRID - val[i] for i in up), min((val[i] for i in down), default=GRID))
    beta = min(min(val[i] for i in up), min((GRID - val[i] for i in down), default=GRID))
    shift = alpha if coin * (alpha + beta) < beta else -beta
    for i in up:
        val[i] += shift
    for i in down:
        val[i] -= shift


def dependent_rounding(u_node, v_node, amount, edge, *, rng):
    """Round pieces in (0, GRID) to 0 or GRID, keeping every node's sum within floor/ceil.

    Repeatedly finds a cycle or a maximal path of fractional pieces and shifts value alternately
    up and down along it, by the random choice that keeps each piece's expectation. Each step
    settles at least one piece. The walk is kept between steps (only the part after the first
    settled piece is undone), so the total work stays close to linear in the number of pieces.
    Yields the edge of every piece that rounds up to a whole slot.
    """
    val = [int(a) for a in amount]
    ends = list(zip(u_node.tolist(), v_node.tolist()))
    n_nodes = int(max(u_node.max(), v_node.max())) + 1
    adj: list[dict[int, None]] = [dict() for _ in range(n_nodes)]  # ordered sets: reproducible
    for i, (a, b) in enumerate(ends):
        adj[a][i] = None
        adj[b][i] = None
    coins = iter(())
    edge = edge.tolist()
    alive = len(val)
    next_start = 0
    nodes: list[int] = []
    path: list[int] = []
    where: dict[int, int] = {}

    def settle(i: int) -> bool:
        a, b = ends[i]
        del adj[a][i], adj[b][i]
        return val[i] == GRID

    while alive:
        if not nodes:
            while val[next_start] in (0, GRID):
                next_start += 1
            start = ends[next_start][0]
            nodes, path, where = [start], [], {start: 0}
        u = nodes[-1]
        last = path[-1] if path else -1
        nxt = next((i for i in adj[u] if i != last), -1)
        if nxt < 0:  # dead end: a maximal path if the walk started at a dead end too
            if not path:
                nodes, path, where = [], [], {}
                continue
            if len(adj[nodes[0]]) > 1:  # walk again from this end, to the other end
                nodes, path, where = [u], [], {u: 0}
                continue
            seq, keep_from = path, 0
        else:
            a, b = ends[nxt]
            v = b if a == u else a
            if v not in where:
                nodes.append(v)
                path.append(nxt)
                where[v] = len(nodes) - 1
                continue
            keep_from = where[v]
            seq = path[keep_from:] + [nxt]
        try:
            coin = next(coins)
        except StopIteration:  # coins come in batches: one numpy call per 4,096 steps
            coins = iter(rng.random(4096).tolist())
            coin = next(coins)
        _alternate(seq, val, coin)
        first_settled = None
        for j, i in enumerate(seq):
            if val[i] in (0, GRID):
                alive -= 1
                if settle(i):
                    yield edge[i]
                if first_settled is None:
                    first_settled = j
        # Keep the walk up to the first settled piece; the rest is walked again.
        cut = keep_from + first_settled if first_settled is not None else len(path)
        cut = min(cut, len(path))
        for node in nodes[cut + 1 :]:
            del where[node]
        del nodes[cut + 1 :], path[cut:]
        if len(nodes) == 1 and not adj[nodes[0]]:
            nodes, path, where = [], [], {}
