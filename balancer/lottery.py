"""Lottery: design the probabilities π(item → prosecutor), then draw one assignment with them.

design: among fractional assignments whose loads stay within `tolerance` utilisation points of the
leximin profile, the most spread out one — minimum expected collision Σ_c Σ_p π_cp² — with
π_cp ≤ max(max_probability, 1/|E_c|) (the cap, relaxed only as far as eligibility forces; the
balance band may force more, which the design reports). One QP on classes. The band is meant for
the *draw*, not only its average: expected loads keep a light item's margin inside it, heavy work
is capped by count so that a whole item more still fits, and no expected load goes above the
integral limit, the best maximum any assignment of whole cases reaches (`balancer.limits`).

draw: compensated dependent rounding (`balancer.rounding`). Guarantees, for every seed:
  * each item goes to exactly one eligible prosecutor, never to one it excludes,
  * P(item → p) = π exactly (π as gridded to 2⁻²⁰ of an item and reported as such; the rounding
    keeps it up to floating-point round-off, 1e-9 of an item),
  * each prosecutor's realised load equals its expected load but for one *leaf step* of less
    than one item of the class it happens on — the lightest work it holds, unless the design
    left it none (`Drawn.leaf_weight`; a priori less than the heaviest item it may receive).

Pooled items (conflicted cases kept in a large class, see `balancer.problem.POOL_MIN_STAFF`)
take their class's distribution outside their exclusions, π_cp = x_kp / (n_k − x_k(X_c)); each is
first placed against its class's own expected counts in a step that keeps every expectation and
every prosecutor's expected hours (`_resolve_pooled`), the rest of the class is then rounded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from balancer.balance import Balance, capacity_room, exact_flow, flow_structure, hour_unit, utilisation
from balancer.problem import Problem, pooled_rows
from balancer.rounding import round_pieces
from balancer.solver import QP, SolverStatus, solve_qp

GRID = 1 << 20
"""Probabilities are held as integers in units of 1/GRID of an item, so rounding is exact."""

CAP_PENALTY = 1e3
"""Price, per unit of probability, of exceeding the cap where the balance band leaves no choice."""

STRETCH_PENALTY = 100.0
"""Price of stretching a band by one hour unit (a median capacity): far above what spreading the
lottery gains from it, far below a count cap's price."""

LIGHT_SHARE = 0.02
"""An item of at most this share of a prosecutor's capacity is *light* for them: the margin a
draw keeps inside the band (`rounding_margin`); heavier items are counted by `count_caps`."""

PLACE_MARGIN = 0.5
"""A pooled item is placed only where its class keeps at least this much of an item after it:
otherwise a later pooled item of the class, with π on that edge, could be placed nowhere with
certainty (see `_resolve_pooled`) and would go into the rounding with a piece per prosecutor."""

BAND_SLACK = 1e-6
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
    solver_status: SolverStatus
    """How exact the design QP's optimum is."""

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
           hard_capacity: bool = False, at_share: bool = False,
           integral_gap: float = 0.0, integral_max: float | None = None) -> Design:
    """The most spread-out lottery whose draws stay within the band around the leximin profile.

    The band is for the *drawn* loads: each expected load keeps a margin of one light item
    (`rounding_margin`) inside it; for the work that is heavy for a prosecutor, the expected
    number of items of each weight w or more stays at most ⌊U/w⌋ (`count_caps`), U the hours up
    to target + max(tolerance, `integral_gap`), so a whole item more than expected still fits; and
    no expected load goes above `integral_max`. `integral_gap` (D*) is how far above its target
    the best whole-item assignment must put someone and `integral_max` that assignment's maximum
    (`balancer.limits`): where D* > tolerance > 0, the band of a prosecutor with heavy work may
    stretch up to target + D* (never above `integral_max`), at a price that keeps it to where the
    count caps need it — below D* no lottery of whole items keeps every draw in the band. With
    tolerance 0 the expected loads are the leximin loads themselves.

    `at_share` (daily intake): each expected load is its leximin share (to `BAND_SLACK`); the
    tolerance still bounds each draw through the count caps. Why no band: one around the day's
    target would let a prosecutor drift up by `tolerance` of capacity every day, and one around
    the day's share still lets those whom the spread favours (eligible for much, so each of their
    classes wants more of them) drift up by `tolerance` of what each day adds; prosecutors whose
    remaining work is only what they alone may take can never shed that (on a generated year, the
    four corruption specialists' projected year end rose from 92.4 to 95.6 % with an exact
    forecast). Held at their shares, the days' draws spread as much (mean π of the drawn cases
    0.065 with the share band, 0.066 without)."""
    E, K, P = problem.n_edges, problem.n_classes, problem.n_staff
    unit = hour_unit(problem)
    n_k = problem.class_count.astype(np.float64)
    n_e = n_k[problem.edge_class]
    cap = np.maximum(max_probability, 1.0 / np.maximum(problem.class_degree, 1))
    cap_e = cap[problem.edge_class] * n_e

    by_class, by_staff = flow_structure(problem)
    w_e = problem.class_weight[problem.edge_class] / unit
    hours = by_staff @ sp.diags(w_e)  # P×E: hours each edge's items bring to its prosecutor
    light = light_edges(problem)
    band = _band(problem, balance, light, tolerance, at_share, hard_capacity, integral_gap, integral_max)
    lower, upper, stretch = (v / unit for v in band)
    caps, caps_rhs = count_caps(problem, balance, max(tolerance, integral_gap), light)
    if tolerance == 0:  # the leximin loads themselves: no promise about single draws to keep
        caps, caps_rhs = caps[:0], caps_rhs[:0]
    L = caps.shape[0]

    # Variables: x (E, expected items per edge), s (S, items above the π cap), c (L, items above
    # the count caps), r (P, hours the band stretches); s and c are priced so that eligibility and
    # the band always leave a solution, r so that it is used only where the caps need it. An edge
    # whose prosecutor's band holds fewer of its items than the cap (x w ≤ load ≤ upper + stretch)
    # can never exceed it: it gets no s and no cap row. At 1,000,000 cases that is almost every
    # edge, and the QP is half the size for the same optimum.
    capped = np.flatnonzero((upper + stretch)[problem.edge_staff] / w_e > cap_e)
    S = len(capped)
    on_capped = sp.csr_matrix((np.ones(S), (np.arange(S), capped)), shape=(S, E))
    I_S, I_P = sp.identity(S, format="csr"), sp.identity(P, format="csr")
    zero = lambda rows, cols: sp.csr_matrix((rows, cols))  # noqa: E731
    A_eq = sp.hstack([by_class, zero(K, S + L + P)]).tocsr()
    pooled, pooled_rhs = pooled_rows(problem)
    A_le = sp.vstack(
        [
            sp.hstack([hours, zero(P, S + L), -I_P]),  # load ≤ upper + r
            sp.hstack([-hours, zero(P, S + L + P)]),  # load ≥ lower
            sp.hstack([-sp.identity(E, format="csr"), zero(E, S + L + P)]),  # x ≥ 0
            sp.hstack([zero(S, E), -I_S, zero(S, L + P)]),  # s ≥ 0
            sp.hstack([on_capped, -I_S, zero(S, L + P)]),  # x − s ≤ cap
            sp.hstack([zero(L, E + S), -sp.identity(L), zero(L, P)]),  # c ≥ 0
            sp.hstack([caps, zero(L, S), -sp.identity(L), zero(L, P)]),  # heavy counts − c ≤ ⌊U/w⌋
            sp.hstack([zero(P, E + S + L), -I_P]),  # r ≥ 0
            sp.hstack([zero(P, E + S + L), I_P]),  # r ≤ stretch
            sp.hstack([pooled, zero(pooled.shape[0], S + L + P)]),
        ]
    ).tocsr()
    b_le = np.concatenate([upper, -lower, np.zeros(E + S), cap_e[capped], np.zeros(L), caps_rhs,
                           np.zeros(P), stretch, pooled_rhs])
    diag = np.concatenate([2.0 / n_e, np.zeros(S + L + P)])  # ½ Σ 2x²/n = Σ n (x/n)² = Σ_c Σ_p π²
    q = np.concatenate([np.zeros(E), CAP_PENALTY / n_e[capped], np.full(L, CAP_PENALTY), np.full(P, STRETCH_PENALTY)])
    solution = solve_qp(QP(diag, q, A_eq, n_k, A_le, b_le))
    units = grid_counts(problem, solution.x[:E], problem.class_count)
    rounded_units, scale = split_pooled(problem, units)
    over = np.zeros(K, dtype=bool)
    over[problem.edge_class[units > cap_e * GRID * (1 + 1e-6) + 1]] = True
    return Design(units=units, rounded_units=rounded_units, pooled_scale=scale, cap=cap,
                  over_cap=over, max_probability=max_probability, solver_status=solution.status)


IDLE_SHARE = 0.1
"""`busy_only` drops the edges of prosecutors given nothing today once they are this share of all."""


def busy_only(problem: Problem, balance: Balance) -> tuple[Problem, Balance]:
    """An intake day's problem without the prosecutors its profile gives nothing, and its balance.

    With `at_share` their expected load is nil (the slack aside), so their edges only make the
    limit's and the design's problems bigger: against uneven held loads, half of a day's edges at
    2,000 staff. The leximin flow carries over (it sends them at most round-off), so the loads
    are the same; a class may merge with another that differed only in who was left out."""
    idle = balance.load <= BAND_SLACK * problem.capacity
    if idle[problem.edge_staff].sum() < IDLE_SHARE * problem.n_edges:
        return problem, balance
    busy = problem.without_staff(idle)
    new_class = np.empty(problem.n_classes, dtype=np.int64)
    new_class[problem.item_class] = busy.item_class  # items keep their places; a class maps whole
    keep = ~idle[problem.edge_staff]
    edge = busy.edge_index(new_class[problem.edge_class[keep]], problem.edge_staff[keep])
    flow = exact_flow(busy, np.bincount(edge, weights=balance.flow[keep], minlength=busy.n_edges))
    load = np.bincount(busy.edge_staff, weights=flow, minlength=busy.n_staff)
    return busy, replace(balance, load=load, flow=flow, target_utilisation=utilisation(busy, load))


def _band(problem: Problem, balance: Balance, light: np.ndarray, tolerance: float,
          at_share: bool, hard_capacity: bool, integral_gap: float, integral_max: float | None):
    """(lower, upper, stretch) in hours: the band each expected load keeps, and how far above it
    a prosecutor with heavy work may go (see `design`)."""
    load, a, b = balance.load, problem.capacity, problem.base_load
    band = tolerance * a
    if at_share:
        band = np.zeros_like(band)  # an intake day: the share itself (see `design`)
    margin = np.minimum(rounding_margin(problem, light), band / 2)
    slack = BAND_SLACK * a
    upper = load + band - margin + slack
    lower = load - band - slack
    if integral_max is not None:  # no expected load above the best whole-item maximum
        upper = np.maximum(np.minimum(upper, (integral_max + BAND_SLACK) * a - b - margin), load + slack)
    if hard_capacity:
        upper = np.minimum(upper, np.maximum(capacity_room(problem), load))
    # Where the integral limit puts someone D* above target and D* exceeds the tolerance, the band
    # of a prosecutor with heavy work may stretch up to D* (priced: only where the count caps
    # need it). Tolerance 0 asks for the leximin loads themselves: no stretch then.
    if tolerance == 0 or at_share or integral_gap <= tolerance:
        return lower, upper, np.zeros(problem.n_staff)
    heavy = np.zeros(problem.n_staff, dtype=bool)
    heavy[problem.edge_staff[~light]] = True
    reach = load + integral_gap * a
    if integral_max is not None:
        reach = np.minimum(reach, (integral_max + BAND_SLACK) * a - b)
    if hard_capacity:
        reach = np.minimum(reach, capacity_room(problem))
    return lower, upper, np.where(heavy, np.maximum(reach - upper, 0.0), 0.0)


def light_edges(problem: Problem) -> np.ndarray:
    """(E,) whether one item of the edge's class is light for its prosecutor (LIGHT_SHARE)."""
    return problem.class_weight[problem.edge_class] <= LIGHT_SHARE * problem.capacity[problem.edge_staff]


def rounding_margin(problem: Problem, light: np.ndarray) -> np.ndarray:
    """(P,) hours: the heaviest light item each prosecutor may receive (`light`: `light_edges`),
    what a draw may move its load by when the rounding's last step lands on light work."""
    light = np.flatnonzero(light)
    margin = np.zeros(problem.n_staff)
    np.maximum.at(margin, problem.edge_staff[light], problem.class_weight[problem.edge_class[light]])
    return margin


def count_caps(problem: Problem, balance: Balance, above: float,
               light: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows `A x ≤ rhs`: for each prosecutor p and each weight w of work heavy for p (`light`:
    `light_edges`), the expected items of weight ≥ w at p stay at most ⌊U_p / w⌋,
    U_p = (target_p + above)·a_p − b_p: where the draw rounds a heavy count up, the whole item more
    still fits under U_p."""
    heavy = np.flatnonzero(~light)
    staff, weight = problem.edge_staff[heavy], problem.class_weight[problem.edge_class[heavy]]
    levels = pd.DataFrame({"staff": staff, "level": weight}).drop_duplicates(ignore_index=True)
    pairs = pd.DataFrame({"edge": heavy, "staff": staff, "weight": weight}).merge(
        levels.reset_index(names="row"), on="staff")
    pairs = pairs[pairs["weight"] >= pairs["level"]]
    rows = sp.csr_matrix((np.ones(len(pairs)), (pairs["row"], pairs["edge"])),
                         shape=(len(levels), problem.n_edges))
    p = levels["staff"].to_numpy()
    target = np.nan_to_num(balance.target_utilisation[p])
    room = (target + above) * problem.capacity[p] - problem.base_load[p]
    return rows, np.maximum(np.floor(room / levels["level"].to_numpy() + 1e-9), 0.0)


def load_bound(problem: Problem, design: Design) -> np.ndarray:
    """(P,) hours by which a realised load may differ from the design's expected load, a priori:
    less than the heaviest item the prosecutor may receive.

    The rounding moves a prosecutor's hours only in its one leaf step, by less than one item of
    the piece it happens on (`balancer.rounding`); resolving pooled items moves nobody's
    expected hours (`_resolve_pooled`). `Drawn.leaf_weight` gives the leaf step's own weight for
    one draw: the lightest work the prosecutor holds, unless the design left it none."""
    on = design.units > 0
    bound = np.zeros(problem.n_staff)
    np.maximum.at(bound, problem.edge_staff[on], problem.class_weight[problem.edge_class[on]])
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


@dataclass(frozen=True)
class Drawn:
    """One draw and what the rounding did to each prosecutor's load."""

    item_staff: np.ndarray
    """(I,) the prosecutor each item goes to."""
    leaf_weight: np.ndarray
    """(P,) hours of one item of the piece on which the prosecutor's load moved (its *leaf
    step*, see `balancer.rounding`), 0 where the rounding kept its expected hours exactly."""


def draw(problem: Problem, design: Design, rng: np.random.Generator) -> np.ndarray:
    """(I,) the prosecutor each item goes to, drawn with marginals exactly π."""
    return draw_traced(problem, design, rng).item_staff


def draw_traced(problem: Problem, design: Design, rng: np.random.Generator) -> Drawn:
    """`draw`, with the leaf step of every prosecutor (what `load_bound` rests on)."""
    own, placed, open_m, open_edge, open_value = _resolve_pooled(problem, design, rng)
    edges = np.flatnonzero(own > 0)
    units = np.concatenate([problem.edge_class[edges], problem.n_classes + open_m])
    all_edges = np.concatenate([edges, open_edge])
    staff = problem.edge_staff[all_edges]
    weight = problem.class_weight[problem.edge_class[all_edges]]
    counts, leaf = round_pieces(units, problem.n_classes + len(problem.pooled_item) + staff,
                                np.concatenate([own[edges], open_value]), weight, rng)
    leaf_weight = np.zeros(problem.n_staff)
    np.maximum.at(leaf_weight, staff[leaf], weight[leaf])
    won = np.zeros(problem.n_edges, dtype=np.int64)
    won[edges] = counts[: len(edges)]
    opened = counts[len(edges):] > 0
    placed[open_m[opened]] = open_edge[opened]
    # Which concrete item of a class fills which of its won places: a uniform random permutation.
    rounded = np.ones(len(problem.item_class), dtype=bool)
    rounded[problem.pooled_item] = False
    shuffled = rng.permutation(np.flatnonzero(rounded))
    shuffled = shuffled[np.argsort(problem.item_class[shuffled], kind="stable")]
    item_staff = np.empty(len(problem.item_class), dtype=np.int64)
    item_staff[shuffled] = np.repeat(problem.edge_staff, won)  # edges are sorted by class
    item_staff[problem.pooled_item] = problem.edge_staff[placed]
    return Drawn(item_staff=item_staff, leaf_weight=leaf_weight)


def _resolve_pooled(problem: Problem, design: Design, rng: np.random.Generator):
    """Place pooled items one by one against their class's own expected counts `own`, keeping
    every (class, prosecutor) total — so nobody's expected hours — and every expectation.

    For pooled item c with π_c (0 on the staff it excludes): on the *big* edges G, where
    own + π_c ≥ 1 + PLACE_MARGIN, c may take one whole place; with probability a it does, on q ∈ G with
    probability π_q / Σ_G π, and own becomes own + π_c − e_q (never below 0 on G). Otherwise it
    stays open, with π' = π_G (1 − a/B) / (1 − a) and π_S / (1 − a) on the other edges S, and own
    becomes own + π_c − π' (a ≤ own_q / (own_q + π_q) on S keeps that ≥ 0). Either way
    E[π'] = π_c and E[own'] = own: a martingale step, so P(c → p) = π_cp exactly. Open items go
    into the rounding as units of their own (rare: a < 1 only where c's class is thin).

    Returns own (E,), the edge of each placed pooled item (−1 if open), and the open items'
    pieces (item number, edge, value)."""
    own = design.rounded_units / GRID
    x = design.count()
    placed = np.full(len(problem.pooled_item), -1, dtype=np.int64)
    open_m, open_edge, open_value = [], [], []
    _, excluded = problem.pooled_edges()
    bounds = problem.pooled_excl_start
    starts = problem.class_edge_start
    for m, item in enumerate(problem.pooled_item.tolist()):
        k = problem.item_class[item]
        lo, hi = starts[k], starts[k + 1]
        pi = x[lo:hi] * design.pooled_scale[m]
        pi[excluded[bounds[m]:bounds[m + 1]] - lo] = 0.0
        o = own[lo:hi]
        big = (o + pi >= 1.0 + PLACE_MARGIN) & (pi > 0)
        small = (pi > 0) & ~big
        B = float(pi[big].sum())
        a = min(B, float(np.min(o[small] / (o[small] + pi[small]), initial=1.0)))
        if rng.random() < a:
            q = np.flatnonzero(big)
            e = q[min(np.searchsorted(np.cumsum(pi[q]), rng.random() * B, side="right"), len(q) - 1)]
            placed[m] = lo + e
            o += pi
            o[e] -= 1.0
        else:
            after = np.where(big, pi * (1.0 - a / B) if B > 0 else 0.0, pi) / (1.0 - a)
            o += pi - after
            on = np.flatnonzero(after > 0)
            open_m.append(np.full(len(on), m))
            open_edge.append(lo + on)
            open_value.append(after[on])
        np.maximum(o, 0.0, out=o)  # round-off only: a keeps it non-negative
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return own, placed, cat(open_m, np.int64), cat(open_edge, np.int64), cat(open_value, np.float64)
