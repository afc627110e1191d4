"""Rates per 1,000 with exact Poisson intervals: statsmodels, the definition, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.rates import confint_poisson

from geo.errors import InvalidInput
from geo.rates import MIN_STABLE_COUNT, nearest_year, poisson_ci, rates_per_1000

COUNTS = st.integers(0, 5000)
POPULATIONS = st.floats(1.0, 1e7, allow_nan=False)


def test_poisson_ci_published_values() -> None:
    # Exact 95 % limits as printed in standard tables of Poisson confidence limits:
    # 10 events -> 4.795 to 18.390; 0 events -> 0 to 3.689; 1 event -> 0.0253 to 5.572.
    low, high = poisson_ci(np.array([10, 0, 1]))
    np.testing.assert_allclose(low, [4.795, 0.0, 0.0253], atol=5e-4)
    np.testing.assert_allclose(high, [18.390, 3.689, 5.572], atol=5e-4)


def test_poisson_ci_matches_statsmodels_exact_c() -> None:
    counts = np.arange(0, 400)
    for confidence in (0.8, 0.95, 0.998):
        low, high = poisson_ci(counts, confidence)
        ref_low, ref_high = confint_poisson(counts, 1, method="exact-c", alpha=1 - confidence)
        np.testing.assert_allclose(low, np.nan_to_num(ref_low), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(high, ref_high, rtol=1e-10)


def test_poisson_ci_inverts_the_poisson_tails() -> None:
    # Definition of the exact interval: at the upper limit P(X <= k) = a/2, at the lower limit
    # P(X >= k) = a/2 (scipy.stats.poisson, no chi-square involved).
    counts = np.arange(1, 300)
    low, high = poisson_ci(counts, 0.95)
    np.testing.assert_allclose(stats.poisson.cdf(counts, high), 0.025, rtol=1e-8)
    np.testing.assert_allclose(stats.poisson.sf(counts - 1, low), 0.025, rtol=1e-8)


def test_rates_hand_worked() -> None:
    table = rates_per_1000(np.array([25, 9, 10, 4, 0]), np.array([5000, 1500, 0, -3, 2000]))
    # 25 events among 5,000 residents: 5.0 per 1,000; limits = exact count limits / 5.
    assert table.rate_per_1000[0] == pytest.approx(5.0)
    low25, high25 = poisson_ci(np.array([25]))
    assert table.ci_low[0] == pytest.approx(low25[0] / 5)
    assert table.ci_high[0] == pytest.approx(high25[0] / 5)
    assert table.rate_per_1000[1] == pytest.approx(6.0)
    # No population at risk: no rate.
    assert np.isnan(table.rate_per_1000[2:4]).all()
    assert np.isnan(table.ci_low[2:4]).all()
    assert np.isnan(table.ci_high[2:4]).all()
    # Zero events among 2,000: rate 0, upper limit 3.689 / 2.
    assert table.rate_per_1000[4] == 0.0
    assert table.ci_high[4] == pytest.approx(3.68888 / 2, rel=1e-5)
    assert MIN_STABLE_COUNT == 10
    np.testing.assert_array_equal(table.unstable, [False, True, False, True, True])
    np.testing.assert_array_equal(table.count, [25, 9, 10, 4, 0])


def test_stricter_stability_threshold() -> None:
    table = rates_per_1000(np.array([19, 20]), np.array([100.0, 100.0]), min_stable_count=20)
    np.testing.assert_array_equal(table.unstable, [True, False])


def test_fractional_counts_from_reapportioning_are_accepted() -> None:
    table = rates_per_1000(np.array([2.5, 12.25]), np.array([1000, 1000]))
    np.testing.assert_allclose(table.rate_per_1000, [2.5, 12.25])
    assert (table.ci_low < table.rate_per_1000).all()


@given(st.lists(st.tuples(COUNTS, POPULATIONS), min_size=1, max_size=30))
@settings(max_examples=150, deadline=None)
def test_doubling_population_halves_rate_and_interval(rows: list[tuple[int, float]]) -> None:
    counts = np.array([c for c, _ in rows])
    pop = np.array([p for _, p in rows])
    one, two = rates_per_1000(counts, pop), rates_per_1000(counts, 2 * pop)
    np.testing.assert_allclose(two.rate_per_1000, one.rate_per_1000 / 2, rtol=1e-12)
    np.testing.assert_allclose(two.ci_low, one.ci_low / 2, rtol=1e-12)
    np.testing.assert_allclose(two.ci_high, one.ci_high / 2, rtol=1e-12)
    # The interval contains the point estimate (strictly above it at the top).
    assert (one.ci_low <= one.rate_per_1000).all()
    assert (one.rate_per_1000 < one.ci_high).all()


@given(st.integers(0, 10_000), st.floats(0.5, 0.999))
@settings(max_examples=150, deadline=None)
def test_interval_is_monotone_in_count(k: int, confidence: float) -> None:
    low, high = poisson_ci(np.array([k, k + 1]), confidence)
    assert low[0] < low[1]
    assert high[0] < high[1]
    # and widens with the confidence level
    wide_low, wide_high = poisson_ci(np.array([k]), (1 + confidence) / 2)
    assert wide_low[0] <= low[0]
    assert wide_high[0] > high[0]


@pytest.mark.parametrize("bad", [[-1], [np.nan], [np.inf], ["3"]])
def test_poisson_ci_rejects_bad_counts(bad: list[object]) -> None:
    with pytest.raises(InvalidInput):
        poisson_ci(np.array(bad))


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95.0, -0.5])
def test_poisson_ci_rejects_bad_confidence(confidence: float) -> None:
    with pytest.raises(InvalidInput):
        poisson_ci(np.array([3]), confidence)


def test_rates_reject_mismatched_or_infinite_population() -> None:
    with pytest.raises(InvalidInput):
        rates_per_1000(np.array([1, 2]), np.array([10.0]))
    with pytest.raises(InvalidInput):
        rates_per_1000(np.array([1]), np.array([np.inf]))


@pytest.mark.parametrize(
    ("available", "first", "last", "year"),
    [
        ([2019, 2022], "2022-01", "2022-11", 2022),  # middle mid-June 2022
        ([2019, 2022], "2023-01", "2024-01", 2022),  # only earlier years available
        ([2019, 2020, 2021], "2021-01", "2021-12", 2021),
        ([2021, 2022, 2023], "2022-07", "2023-06", 2022),  # 1 Jan 2023: tie -> earlier
        ([2023, 2022], "2023-01", "2023-12", 2023),  # order of available does not matter
        ([2019, 2022], "2020-01", "2021-12", 2019),  # 18 months from each: tie -> earlier
        ([2019, 2022], "2020-02", "2022-01", 2022),  # one month later: 2022 is nearer
        ([2015], "2030-01", "2030-12", 2015),
    ],
)
def test_nearest_year(available: list[int], first: str, last: str, year: int) -> None:
    assert nearest_year(available, first, last) == year


@pytest.mark.parametrize(
    ("available", "first", "last"),
    [([], "2022-01", "2022-12"), ([2020], "2022-12", "2022-01"), ([2020], "2022", "2022-12")],
)
def test_nearest_year_rejects(available: list[int], first: str, last: str) -> None:
    with pytest.raises(InvalidInput):
        nearest_year(available, first, last)
