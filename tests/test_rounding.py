"""Compensated rounding (balancer.rounding) on random piece graphs: every unit keeps its count,
every prosecutor keeps its expected hours except for one leaf step of less than one item, and
every piece's expectation is kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from balancer.rounding import round_pieces

WEIGHTS = [1.0, 2.0, 3.5, 8.0, 13.0, 80.0]


@st.composite
def piece_graphs(draw, max_units: int = 6, max_staff: int = 7):
    """Units with whole totals spread over random prosecutors; weights from light to very heavy;
    some prosecutors hold a single piece, some units a single prosecutor."""
    n_units = draw(st.integers(1, max_units))
    n_staff = draw(st.integers(1, max_staff))
    unit, staff, value, weight = [], [], [], []
    for k in range(n_units):
        total = draw(st.integers(1, 6))
        who = draw(st.lists(st.integers(0, n_staff - 1), min_size=1, max_size=n_staff, unique=True))
        shares = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=len(who), max_size=len(who))))
        w = draw(st.sampled_from(WEIGHTS))
        for p, x in zip(who, total * shares / shares.sum()):
            unit.append(k)
            staff.append(n_units + p)
            value.append(x)
            weight.append(w)
    return np.array(unit), np.array(staff), np.array(value), np.array(weight)


def hours(staff, counts, weight):
    return np.bincount(staff, weights=counts * weight)


@settings(max_examples=300, deadline=None)
@given(piece_graphs(), st.integers(0, 2**32 - 1))
def test_units_keep_their_counts_and_prosecutors_their_hours_but_for_one_leaf_step(graph, seed):
    unit, staff, value, weight = graph
    counts, leaf = round_pieces(unit, staff, value, weight, np.random.default_rng(seed))
    assert counts.dtype.kind == "i" and (counts >= 0).all()
    np.testing.assert_array_equal(np.bincount(unit, weights=counts), np.rint(np.bincount(unit, weights=value)))
    assert (counts[value == 0] == 0).all()
    # At most one leaf step per prosecutor, and nobody else's hours move.
    assert np.bincount(staff[leaf]).max(initial=0) <= 1
    gap = np.abs(hours(staff, counts, weight) - hours(staff, value, weight))
    leaf_weight = np.bincount(staff[leaf], weights=weight[leaf], minlength=len(gap))
    assert np.all(gap <= 1e-6 + np.where(leaf_weight > 0, leaf_weight - 1e-9, 0.0)), (gap, leaf_weight)
    # The leaf step's own bound: the pinned piece moved less than one item.
    for i in np.flatnonzero(leaf):
        p = staff[i]
        assert gap[p] < weight[i]


@settings(max_examples=50, deadline=None)
@given(piece_graphs(), st.integers(0, 2**32 - 1))
def test_same_seed_same_rounding(graph, seed):
    a = round_pieces(*graph, np.random.default_rng(seed))
    b = round_pieces(*graph, np.random.default_rng(seed))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def mean_test(unit, staff, value, weight, draws: int, z_max: float):
    """Largest |z| of the mean count of each piece against its value, over `draws` roundings."""
    total = np.zeros(len(value))
    square = np.zeros(len(value))
    for seed in range(draws):
        counts, _ = round_pieces(unit, staff, value, weight, np.random.default_rng(seed))
        total += counts
        square += counts.astype(float) ** 2
    mean = total / draws
    sd = np.sqrt(np.maximum(square / draws - mean**2, 1e-12) / draws)
    z = np.abs(mean - value) / sd
    return float(z.max()), z_max


def test_every_piece_keeps_its_expectation():
    """Three tiers sharing prosecutors; heavy pieces small, so the light ones compensate."""
    unit = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3])
    staff = np.array([4, 5, 6, 4, 5, 6, 5, 6, 4, 5, 6])
    value = np.array([0.3, 0.9, 0.8, 1.25, 0.5, 1.25, 0.6, 0.4, 3.3, 2.2, 1.5])
    weight = np.array([80, 80, 80, 8, 8, 8, 3, 3, 1, 1, 1.0])
    # Bonferroni over 11 pieces at a 1e-3 false-alarm rate for the whole test.
    z, z_max = mean_test(unit, staff, value, weight, draws=4000, z_max=norm.isf(1e-3 / 2 / len(value)))
    assert z < z_max, z


def test_the_mean_test_catches_a_biased_rounding():
    """Control: claim the wrong values for the same draws and the test fails."""
    unit = np.array([0, 0, 1, 1])
    staff = np.array([2, 3, 2, 3])
    value = np.array([0.3, 0.7, 0.6, 0.4])
    weight = np.array([5.0, 5.0, 1.0, 1.0])
    draws = 4000
    total = np.zeros(4)
    for seed in range(draws):
        total += round_pieces(unit, staff, value, weight, np.random.default_rng(seed))[0]
    claimed = np.array([0.35, 0.65, 0.6, 0.4])
    sd = np.sqrt(claimed * (1 - claimed) / draws)
    assert np.abs(total / draws - claimed).max() / sd.max() > norm.isf(1e-3 / 8)


def test_a_heavy_item_is_paid_for_with_light_work():
    """A prosecutor who wins an 80-hour case gives up forty 2-hour cases, not one."""
    unit = np.array([0, 0, 1, 1])
    staff = np.array([2, 3, 2, 3])
    value = np.array([0.5, 0.5, 40.0, 40.0])
    weight = np.array([80.0, 80.0, 2.0, 2.0])
    for seed in range(50):
        counts, leaf = round_pieces(unit, staff, value, weight, np.random.default_rng(seed))
        np.testing.assert_allclose(hours(staff, counts, weight)[2:], [120.0, 120.0])
        assert not leaf.any()
