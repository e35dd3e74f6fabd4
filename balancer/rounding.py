"""Compensated dependent rounding: whole items from expected counts, heaviest first, each
prosecutor's hours held where they are for as long as lighter work can absorb the difference.

Input: a bipartite graph of *pieces* (unit node → prosecutor), each with an expected count v ≥ 0
and the hours w of one item; every unit node (a class, or one conflicted item of its own) has an
integral total. Output: an integer count per piece with

  * every unit node's total kept exactly (each item drawn once, only where it has a piece),
  * E[count] = v exactly (up to floating-point round-off, 1e-9 of an item): every step is a
    martingale step, a shift by +α with probability β/(α+β) and by −β otherwise,
  * each prosecutor's realised hours equal to its expected hours, except for one *leaf step*:
    see below.

Tiers are the distinct item weights, heaviest first; a tier's pieces move between ⌊v⌋ and ⌈v⌉
(v: their value when the tier starts) until they are whole, lighter pieces move freely above 0,
heavier pieces are whole already. A step shifts hours h along a cycle, or along a path between
two prosecutors, alternately up and down: each piece changes by ±h/w, so every unit keeps its
count and every prosecutor *inside* the path keeps its hours exactly. Then:

  * a unit never ends a path: one with a single movable piece left has that piece whole (its
    total is whole, its other pieces are at 0 or whole), so the piece leaves the walk;
  * a prosecutor ends a path only when one movable piece is all it has left (its lighter work is
    at 0 or whole): its *leaf step*. That piece is pinned between the whole numbers around its
    value at that moment until it is whole, and pieces only ever leave the walk, so

        realised hours − expected hours = w_e · (count_e − v_e)   for that one piece e,

    strictly less than one item of e's weight; zero for a prosecutor never at a path's end.

A walk prefers a prosecutor's pieces of the tier, and at a lighter unit heads for a prosecutor
that still has some (*hot*), so lighter work is spent compensating the tier's rounding rather than
drained in cycles of its own; e is then typically the lightest work the prosecutor holds.

This replaces rounding over a Shmoys–Tardos slot graph, which kept the number of items per
prosecutor but not their hours: winning one 80-hour case there cost one 2-hour case, not forty.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-9
"""A value this close to a whole number (or to 0, for a lighter piece) is settled there."""


def round_pieces(unit: np.ndarray, staff: np.ndarray, value: np.ndarray, weight: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(counts, leaf) for pieces (unit node, staff node) with expected counts `value`.

    `unit` and `staff` are node numbers in disjoint ranges; `leaf` (one entry per piece) is True
    for the piece on which its prosecutor's leaf step happened (at most one per prosecutor)."""
    n = len(value)
    counts = np.zeros(n, dtype=np.int64)
    leaf = np.zeros(n, dtype=bool)
    if n == 0:
        return counts, leaf
    state = _State(unit, staff, value, weight, rng)
    for s in range(len(state.tiers)):
        state.round_tier(s)
    counts[:] = np.rint(state.val).astype(np.int64)
    leaf[list(state.leaf_piece)] = True
    return counts, leaf


class _State:
    """The pieces' values and the walk over the pieces that may still move."""

    def __init__(self, unit, staff, value, weight, rng):
        self.u = unit.tolist()
        self.v = staff.tolist()
        w = np.asarray(weight, dtype=np.float64)
        self.tiers = np.unique(w)[::-1]
        self.tier_arr = np.searchsorted(-self.tiers, -w)
        # Python lists: the walk reads single values, which numpy arrays serve slowly.
        self.val = np.asarray(value, dtype=np.float64).tolist()
        self.w = w.tolist()
        self.tier = self.tier_arr.tolist()
        self.rng = rng
        self.coins: list[float] = []
        self.n_nodes = int(max(unit.max(), staff.max())) + 1
        is_unit = np.zeros(self.n_nodes, dtype=bool)
        is_unit[unit] = True
        self.is_unit = is_unit.tolist()
        self.leaf_piece: set[int] = set()
        self.pin: dict[int, int] = {}  # a prosecutor's last piece: floor of its value when pinned
        self.done: set[int] = set()  # whole and final

    # ------------------------------------------------------------------ one tier
    def round_tier(self, s: int) -> None:
        val = np.array(self.val)
        cur = np.flatnonzero(self.tier_arr == s)
        whole = np.abs(val[cur] - np.rint(val[cur])) <= EPS
        for i in cur[whole].tolist():
            self.val[i] = float(round(self.val[i]))
        frac = cur[~whole]
        if len(frac) == 0:
            return
        lighter = np.flatnonzero((self.tier_arr > s) & (val > EPS))
        lighter = np.array([i for i in lighter.tolist() if i not in self.done], dtype=np.int64)
        self.s = s
        self.lo = {i: math.floor(val[i]) for i in frac.tolist()}
        self.lo.update(self.pin)
        # Pieces of the tier first in each node's list: a walk prefers them (they settle).
        self.adj: list[dict[int, None]] = [dict() for _ in range(self.n_nodes)]
        for i in np.concatenate([frac, lighter]).tolist():
            self.adj[self.u[i]][i] = None
            self.adj[self.v[i]][i] = None
        self.alive = len(frac)
        # Staff with pieces of the tier are *hot*: at a lighter unit a walk heads for one, so that
        # lighter work is traded against the tier's pieces, not drained in cycles of its own.
        self.hot = [0] * self.n_nodes
        for i in frac.tolist():
            self.hot[self.v[i]] += 1
        self.hot_adj: dict[int, dict[int, None]] = {}
        for i in lighter.tolist():
            if self.hot[self.v[i]]:
                self.hot_adj.setdefault(self.u[i], {})[i] = None
        removed: list[int] = []
        for i in np.concatenate([frac, lighter]).tolist():
            if i in self.adj[self.u[i]]:
                self._prune(i, removed)
        self._walk(frac.tolist())

    def _is_cur(self, i: int) -> bool:
        return self.tier[i] == self.s

    def _remove(self, i: int, removed: list[int]) -> None:
        a, b = self.u[i], self.v[i]
        if i not in self.adj[a]:
            return
        del self.adj[a][i], self.adj[b][i]
        removed.append(i)
        if not self._is_cur(i):
            self.hot_adj.get(a, {}).pop(i, None)
            return
        self.alive -= 1
        self.hot[b] -= 1
        if self.hot[b] == 0:  # b is cold now: its lighter pieces lead nowhere useful
            for j in self.adj[b]:
                self.hot_adj.get(self.u[j], {}).pop(j, None)

    def _prune(self, i: int, removed: list[int]) -> None:
        """A unit node left with one movable piece: the piece is whole (the unit's count is, and
        its other pieces are at 0 or whole), up to round-off; take it out."""
        edges = self.adj[self.u[i]]
        if len(edges) == 1:
            (j,) = edges
            self.val[j] = float(round(self.val[j]))
            self.done.add(j)
            self._remove(j, removed)

    def _coin(self) -> float:
        if not self.coins:  # one numpy call per 4,096 steps
            self.coins = self.rng.random(4096).tolist()[::-1]
        return self.coins.pop()

    def _next(self, node: int, last: int) -> int:
        """The piece to walk on: at a prosecutor, one of the tier's first (the adjacency lists
        them first); at a lighter unit, one leading to a hot prosecutor where there is one."""
        for i in self.hot_adj.get(node, ()):
            if i != last:
                return i
        for i in self.adj[node]:
            if i != last:
                return i
        return -1

    def _walk(self, frac: list[int]) -> None:
        """Find cycles and maximal paths and shift along them until the tier is whole.

        The walk is kept between steps up to the first piece a step removed, so the total work
        stays close to linear in the number of pieces."""
        adj = self.adj
        nodes: list[int] = []
        path: list[int] = []
        where: dict[int, int] = {}
        k = 0
        while self.alive:
            if not nodes:
                while frac[k] not in adj[self.u[frac[k]]]:
                    k += 1
                start = self.u[frac[k]]
                nodes, path, where = [start], [], {start: 0}
            x = nodes[-1]
            nxt = self._next(x, path[-1] if path else -1)
            if nxt < 0:  # a dead end: a maximal path if the walk started at one too
                if not path:
                    nodes, path, where = [], [], {}
                    continue
                if len(adj[nodes[0]]) > 1:  # walk again from this end to the other
                    nodes, path, where = [x], [], {x: 0}
                    continue
                seq, is_path = path, True
            else:
                y = self.u[nxt] if self.v[nxt] == x else self.v[nxt]
                if y not in where:
                    nodes.append(y)
                    path.append(nxt)
                    where[y] = len(nodes) - 1
                    continue
                seq, is_path = path[where[y]:] + [nxt], False
            removed = self._shift(seq, is_path)
            if not removed:
                continue
            pos = {e: j for j, e in enumerate(path)}
            cut = min((pos[e] for e in removed if e in pos), default=len(path))
            for node in nodes[cut + 1:]:
                del where[node]
            del nodes[cut + 1:], path[cut:]
            if len(nodes) == 1 and not adj[nodes[0]]:
                nodes, path, where = [], [], {}

    def _shift(self, seq: list[int], is_path: bool) -> list[int]:
        """Shift hours alternately up and down seq by the random amount that keeps every
        expectation; return the pieces that left the walk.

        A path's two end pieces are their prosecutors' last movable pieces: their leaf steps.
        Such a piece is pinned between the whole numbers around its value, like a piece of the
        tier, until it is whole."""
        val, w, lo = self.val, self.w, self.lo
        if is_path:
            for i in (seq[0], seq[-1]):
                if i not in lo:
                    if abs(val[i] - round(val[i])) <= EPS:
                        val[i] = float(round(val[i]))
                    lo[i] = self.pin[i] = math.floor(val[i])
                self.leaf_piece.add(i)
        alpha = beta = math.inf
        for j, i in enumerate(seq):
            x, wi = val[i], w[i]
            if i in lo:
                up, down = (lo[i] + 1 - x) * wi, (x - lo[i]) * wi
            else:
                up, down = math.inf, x * wi
            if j % 2 == 0:
                alpha, beta = min(alpha, up), min(beta, down)
            else:
                alpha, beta = min(alpha, down), min(beta, up)
        h = alpha if self._coin() * (alpha + beta) < beta else -beta
        removed: list[int] = []
        settled: list[int] = []
        for j, i in enumerate(seq):
            val[i] += (h if j % 2 == 0 else -h) / w[i]
            if i in lo:
                r = round(val[i])
                if abs(val[i] - r) <= EPS:
                    val[i] = float(r)
                    settled.append(i)
                    self.done.add(i)
            elif val[i] <= EPS:
                val[i] = 0.0
                settled.append(i)
        for i in settled:
            self._remove(i, removed)
        for i in settled:
            self._prune(i, removed)
        return removed
