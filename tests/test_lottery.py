"""The draw's promises, checked as properties over many seeds and random instances:
every item exactly once, only to eligible staff, each load equal to its expected load but for one
leaf step of less than one item (and never more than the heaviest item it may receive), the same
seed giving the same draw, and per-pair frequencies matching π."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from balancer.balance import leximin
from balancer.limits import integral_limit
from balancer.lottery import GRID, design, draw, draw_traced, load_bound
from tests.problems import item_probabilities, make_problem, problems

FALSE_ALARM = 1e-3
"""Chance that a correct draw fails the frequency test (Bonferroni over all pairs tested)."""


def designed(problem, tolerance=0.05, max_probability=0.5):
    return design(problem, leximin(problem), tolerance=tolerance, max_probability=max_probability)


def fluid_load(problem, d):
    hours = d.count() * problem.class_weight[problem.edge_class]
    return np.bincount(problem.edge_staff, weights=hours, minlength=problem.n_staff)


def assert_within_load_bound(problem, d, drawn):
    """The proven bound of one draw: a load moves only in its leaf step, by less than one item of
    the class that step is on, which is never heavier than the a-priori `load_bound`."""
    realised = np.bincount(drawn.item_staff, weights=problem.class_weight[problem.item_class],
                           minlength=problem.n_staff)
    gap = np.abs(realised - fluid_load(problem, d))
    leaf = drawn.leaf_weight
    tol = 1e-6 * max(1.0, problem.class_weight.max(initial=1.0))  # GRID and float round-off
    assert np.all(gap[leaf == 0] <= tol), gap[leaf == 0]
    assert np.all(gap[leaf > 0] < leaf[leaf > 0]), (gap, leaf)
    assert np.all(leaf <= load_bound(problem, d) + tol), (leaf, load_bound(problem, d))


def eligible_pairs(problem):
    return set(zip(problem.edge_class.tolist(), problem.edge_staff.tolist()))


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 2**32))
def test_each_item_once_to_an_eligible_prosecutor_within_the_load_bound(problem, seed):
    d = designed(problem)
    drawn = draw_traced(problem, d, np.random.default_rng(seed))
    item_staff = drawn.item_staff
    assert item_staff.shape == problem.item_class.shape  # one prosecutor per item, no item twice
    pairs = eligible_pairs(problem)
    assert all(pair in pairs for pair in zip(problem.item_class.tolist(), item_staff.tolist()))
    assert_within_load_bound(problem, d, drawn)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_design_is_a_distribution_per_class_within_the_band(problem):
    d = designed(problem, tolerance=0.05)
    per_class = np.bincount(problem.edge_class, weights=d.units, minlength=problem.n_classes)
    assert np.array_equal(per_class, problem.class_count * GRID)
    assert (d.units >= 0).all()
    target = leximin(problem).load
    band = (0.05 + 1e-6) * problem.capacity + 1e-6 * problem.class_weight.max() * problem.class_count.sum() / GRID
    # units are whole 1/GRID items: each edge of p may round by less than one unit of its weight
    rounding = np.bincount(problem.edge_staff, weights=problem.class_weight[problem.edge_class],
                           minlength=problem.n_staff) / GRID
    assert np.all(np.abs(fluid_load(problem, d) - target) <= band + rounding + 1e-5)


@settings(max_examples=20, deadline=None)
@given(problems(), st.integers(0, 2**32))
def test_same_seed_same_draw(problem, seed):
    d = designed(problem)
    a = draw(problem, d, np.random.default_rng(seed))
    b = draw(problem, d, np.random.default_rng(seed))
    assert np.array_equal(a, b)


def frequency_test(problem, d, draws: int, seed: int = 0, claimed=None) -> None:
    """Two-sided exact binomial test per (item, prosecutor) pair of draws with design `d` against
    the π `claimed` (default: `d`'s own), Bonferroni-corrected so the whole test fails a correct
    draw with probability at most FALSE_ALARM."""
    rng = np.random.default_rng(seed)
    hits = np.zeros((len(problem.item_class), problem.n_staff), dtype=np.int64)
    rows = np.arange(len(problem.item_class))
    for _ in range(draws):
        hits[rows, draw(problem, d, rng)] += 1
    expected = item_probabilities(problem, claimed or d)
    assert hits[expected == 0].sum() == 0, "an item went where π is 0"
    tested = expected > 0
    k, p = hits[tested], expected[tested]
    p_low = binom.cdf(k, draws, p)
    p_high = binom.sf(k - 1, draws, p)
    p_value = np.minimum(1.0, 2 * np.minimum(p_low, p_high))
    alpha = FALSE_ALARM / tested.sum()
    worst = np.argmin(p_value)
    assert p_value.min() >= alpha, (
        f"pair frequency {k[worst] / draws:.4f} against π {p[worst]:.4f} over {draws} draws "
        f"(p = {p_value.min():.2e} < {alpha:.2e})"
    )


@pytest.mark.parametrize("instance", range(6))
def test_frequencies_match_pi(instance):
    problem = _fixed_instance(instance)
    frequency_test(problem, designed(problem), draws=3000, seed=instance)


def _fixed_instance(i: int):
    """Seeded random instances with uneven weights and eligibility (kept small: 3,000 draws)."""
    rng = np.random.default_rng(1000 + i)
    P = int(rng.integers(3, 8))
    classes = []
    for _ in range(int(rng.integers(2, 6))):
        eligible = rng.choice(P, size=int(rng.integers(1, P + 1)), replace=False).tolist()
        classes.append((float(rng.choice([1, 2, 3.5, 8, 13])), int(rng.integers(1, 6)), eligible))
    return make_problem(rng.integers(20, 80, P), rng.integers(0, 20, P), classes)


def test_cap_holds_where_eligibility_allows_and_is_relaxed_where_it_does_not():
    # class 0: 4 may take it (cap 0.3 holds); class 1: only 2 may (cap relaxed to 0.5)
    problem = make_problem([100] * 4, [0] * 4, [(5.0, 6, [0, 1, 2, 3]), (5.0, 2, [0, 1])])
    d = designed(problem, tolerance=0.2, max_probability=0.3)
    pi = d.probability(problem)
    assert pi[problem.edge_class == 0].max() <= 0.3 + 1e-6
    np.testing.assert_allclose(pi[problem.edge_class == 1], 0.5, atol=1e-6)
    assert list(d.cap) == [0.3, 0.5]


def test_frequency_test_catches_a_draw_that_breaks_its_promise():
    """The test above is not vacuous: draws from one lottery, checked against another's π, fail."""
    problem = _fixed_instance(0)
    d = designed(problem)
    promised = designed(problem, tolerance=0.0, max_probability=1.0)
    if np.allclose(d.units, promised.units, atol=GRID // 50):
        pytest.skip("the two designs happen to coincide on this instance")
    with pytest.raises(AssertionError):
        frequency_test(problem, d, draws=3000, claimed=promised)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_tolerance_zero_keeps_the_leximin_loads(problem):
    d = designed(problem, tolerance=0.0)
    target = leximin(problem).load
    np.testing.assert_allclose(fluid_load(problem, d), target, atol=1e-4 * problem.capacity.max())


def collision(problem, d):
    """Σ over items of Σ_p π² — the chance two independent draws agree, summed over items."""
    pi = d.probability(problem)
    return float(np.bincount(problem.edge_class, weights=pi**2) @ problem.class_count)


def light(problem):
    """The same problem with capacities and base loads ×100: every case is light for everyone."""
    return dataclasses.replace(problem, capacity=problem.capacity * 100, base_load=problem.base_load * 100)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_more_tolerance_buys_more_randomness(problem):
    """The band only widens, so the most spread-out lottery can only get more spread out — where
    every case is light. Heavy work is capped by count so that each draw keeps the band, and a
    heavy case that would carry someone past it is not offered to them: with heavy work a wider
    band can concentrate a lottery (see the next test)."""
    problem = light(problem)
    tight, loose = (collision(problem, designed(problem, tolerance=t, max_probability=1.0))
                    for t in (0.0, 0.1))
    assert loose <= tight + 1e-4


def test_a_heavy_case_is_not_offered_to_someone_it_would_carry_past_the_band():
    """One 2-hour case, two prosecutors of 10 and 11 hours: the leximin shares it (9.5 % each),
    but whoever draws it ends at 20 % or 18 %. With a band of 10 points only the 11-hour
    prosecutor can take it and stay within the band: the design gives it to them; at tolerance 0
    the leximin loads themselves are kept and the draw cannot stay near them."""
    problem = make_problem([10, 11], [0, 0], [(2.0, 1, [0, 1])])
    balance = leximin(problem)
    limit = integral_limit(problem, balance)
    assert limit.upper == pytest.approx(2 / 11)
    wide = design(problem, balance, tolerance=0.1, max_probability=1.0,
                  integral_gap=limit.above_target, integral_max=limit.upper)
    np.testing.assert_allclose(wide.probability(problem), [0.0, 1.0], atol=1e-6)
    exact = design(problem, balance, tolerance=0.0, max_probability=1.0,
                   integral_gap=limit.above_target, integral_max=limit.upper)
    np.testing.assert_allclose(exact.probability(problem), balance.load / 2.0, atol=1e-4)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(problems(max_staff=5, max_classes=4, max_count=4))
def test_frequencies_match_pi_on_generated_instances(problem):
    """The frequency test on hypothesis-generated instances; derandomised so that the suite's
    false-alarm rate stays fixed (8 examples × FALSE_ALARM)."""
    frequency_test(problem, designed(problem), draws=1500)
