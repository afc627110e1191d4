"""Period comparison and seasonal baselines: scipy binomtest, statsmodels, hand-worked values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from statsmodels.stats import rates as sm_rates
from statsmodels.stats.proportion import proportion_confint

from geo.change import compare_periods, seasonal_baseline
from geo.errors import InvalidInput

# --- compare_periods ----------------------------------------------------------------------------


def test_worked_example_30_vs_15_in_equal_periods() -> None:
    change = compare_periods(np.array([30]), np.array([15]))
    # Under equal rates 30 of the 45 events fall in the current period with probability 1/2 each;
    # the binomial(45, 1/2) is symmetric, so the two-sided p is 2 * P(X <= 15), summed by hand.
    tail = sum(Fraction(math.comb(45, k), 2**45) for k in range(16))
    assert change.p_value[0] == pytest.approx(float(2 * tail), rel=1e-12)
    assert change.p_value[0] == pytest.approx(0.035698, abs=1e-6)
    assert change.ratio[0] == 2.0
    assert change.pct_change[0] == pytest.approx(100.0)
    # Clopper-Pearson for 30/45 (statsmodels 'beta'), mapped to a rate ratio p / (1 - p).
    low, high = proportion_confint(30, 45, alpha=0.05, method="beta")
    assert change.ratio_ci_low[0] == pytest.approx(low / (1 - low), rel=1e-10)
    assert change.ratio_ci_high[0] == pytest.approx(high / (1 - high), rel=1e-10)
    assert change.ratio_ci_low[0] == pytest.approx(1.0429, abs=1e-4)
    assert change.direction[0] == "worse"
    assert compare_periods(np.array([30]), np.array([15]), higher_is_worse=False).direction[0] == (
        "better"
    )
    assert compare_periods(np.array([15]), np.array([30])).direction[0] == "better"


def _cases() -> list[tuple[int, int]]:
    small = [(c1, c2) for c1 in range(0, 25) for c2 in range(0, 25)]
    return [*small, (300, 250), (1000, 1100), (5, 60), (2000, 1), (0, 400), (137, 0)]


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5, 31 / 28, 12 / 7, 0.1])
def test_p_value_equals_scipy_binomtest(ratio: float) -> None:
    cases = _cases()
    c1 = np.array([c[0] for c in cases])
    c2 = np.array([c[1] for c in cases])
    change = compare_periods(c1, c2, exposure_ratio=ratio)
    p0 = ratio / (1 + ratio)
    for i, (k, m) in enumerate(cases):
        expected = 1.0 if k + m == 0 else stats.binomtest(k, k + m, p0).pvalue
        assert change.p_value[i] == expected, (k, m, ratio)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize(("exposure1", "exposure2"), [(1, 1), (12, 6), (28, 31), (365, 730)])
def test_p_value_equals_statsmodels_exact_cond(exposure1: int, exposure2: int) -> None:
    cases = [c for c in _cases() if sum(c) > 0]
    c1 = np.array([c[0] for c in cases])
    c2 = np.array([c[1] for c in cases])
    change = compare_periods(c1, c2, exposure_ratio=exposure1 / exposure2)
    for i, (k, m) in enumerate(cases):
        ref = sm_rates.test_poisson_2indep(k, exposure1, m, exposure2, method="exact-cond").pvalue
        assert change.p_value[i] == pytest.approx(ref, rel=1e-12, abs=1e-300), (k, m)


def test_both_zero_is_no_change() -> None:
    change = compare_periods(np.array([0, 0]), np.array([0, 3]))
    assert change.p_value[0] == 1.0
    assert change.direction[0] == "no significant change"
    assert np.isnan(change.ratio[0])
    assert np.isnan(change.pct_change[0])
    assert change.ratio_ci_low[0] == 0.0
    assert change.ratio_ci_high[0] == np.inf
    # 0 vs 3 in equal periods: p = 2 * (1/2)**3 = 0.25, not significant; ratio 0.
    assert change.p_value[1] == pytest.approx(0.25)
    assert change.ratio[1] == 0.0
    assert change.pct_change[1] == -100.0


def test_previous_zero_gives_nan_ratio_and_open_interval() -> None:
    change = compare_periods(np.array([12]), np.array([0]))
    assert np.isnan(change.ratio[0])
    assert np.isnan(change.pct_change[0])
    assert change.ratio_ci_high[0] == np.inf
    assert change.p_value[0] == pytest.approx(2 * 0.5**12)
    assert change.direction[0] == "worse"


def test_exposure_ratio_adjusts_the_rate_ratio() -> None:
    # 40 events in 2 months vs 20 in 1 month: the same monthly rate.
    change = compare_periods(np.array([40]), np.array([20]), exposure_ratio=2.0)
    assert change.ratio[0] == 1.0
    assert change.pct_change[0] == 0.0
    assert change.direction[0] == "no significant change"


@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 400)), min_size=1, max_size=20),
    st.floats(0.05, 20.0),
)
@settings(max_examples=100, deadline=None)
def test_invariants(pairs: list[tuple[int, int]], ratio: float) -> None:
    c1 = np.array([p[0] for p in pairs])
    c2 = np.array([p[1] for p in pairs])
    change = compare_periods(c1, c2, exposure_ratio=ratio)
    assert ((change.p_value >= 0) & (change.p_value <= 1)).all()  # may underflow to 0
    assert (change.ratio_ci_low <= change.ratio_ci_high).all()
    finite = ~np.isnan(change.ratio)
    assert (change.ratio_ci_low[finite] <= change.ratio[finite] * (1 + 1e-12)).all()
    assert (change.ratio[finite] <= change.ratio_ci_high[finite] * (1 + 1e-12)).all()
    # Swapping the periods (and inverting the exposure ratio) is the same test.
    swapped = compare_periods(c2, c1, exposure_ratio=1 / ratio)
    np.testing.assert_allclose(swapped.p_value, change.p_value, rtol=1e-6)
    significant = change.p_value < 0.05
    np.testing.assert_array_equal(change.direction == "no significant change", ~significant)


@pytest.mark.parametrize(
    ("current", "previous", "kwargs"),
    [
        ([1, 2], [1], {}),
        ([-1], [1], {}),
        ([1.5], [1], {}),
        ([1], [1], {"exposure_ratio": 0.0}),
        ([1], [1], {"exposure_ratio": float("inf")}),
        ([1], [1], {"alpha": 1.0}),
    ],
)
def test_compare_periods_rejects(
    current: list[float], previous: list[float], kwargs: dict[str, float]
) -> None:
    with pytest.raises(InvalidInput):
        compare_periods(np.array(current), np.array(previous), **kwargs)


# --- seasonal_baseline --------------------------------------------------------------------------

MONTHS = ["2022-01", "2022-02", "2023-01", "2023-02", "2024-01"]  # 2023-03 etc. absent


def test_seasonal_baseline_hand_worked() -> None:
    counts = np.array([[10, 12, 20, 5, 90], [0, 0, 3, 0, 1]])
    base = seasonal_baseline(counts, MONTHS)
    nan = np.nan
    np.testing.assert_array_equal(
        base.expected, [[nan, nan, 10.0, 12.0, 15.0], [nan, nan, 0.0, 0.0, 1.5]]
    )
    np.testing.assert_array_equal(base.years_used, [[0, 0, 1, 1, 2], [0, 0, 1, 1, 2]])
    assert np.isnan(base.ci_low[:, :2]).all()
    assert (base.flag[:, :2] == 0).all()
    # 90 against a January mean of 15 over two years is far outside any interval.
    assert base.flag[0, 4] == 1
    assert base.flag[1, 4] == 0
    two = seasonal_baseline(counts, MONTHS, min_years=2)
    assert np.isnan(two.expected[:, :4]).all()
    assert two.expected[0, 4] == 15.0
    assert (two.flag[:, :4] == 0).all()


def test_seasonal_baseline_order_of_columns_does_not_matter() -> None:
    counts = np.array([[10, 12, 20, 5, 90]])
    order = [4, 2, 0, 3, 1]
    shuffled = seasonal_baseline(counts[:, order], [MONTHS[i] for i in order])
    plain = seasonal_baseline(counts, MONTHS)
    np.testing.assert_array_equal(shuffled.expected, plain.expected[:, order])


def test_poisson_interval_is_poisson_quantiles() -> None:
    counts = np.array([[10, 30, 3]])
    base = seasonal_baseline(counts, ["2022-05", "2023-05", "2023-06"], interval="poisson")
    assert base.ci_low[0, 1] == stats.poisson.ppf(0.025, 10)
    assert base.ci_high[0, 1] == stats.poisson.ppf(0.975, 10)
    assert base.flag[0, 1] == 1  # 30 > 17


def _mixture_cdf(x: int, history_sum: int, years: int) -> float:
    """P(X <= x) for X ~ Poisson(mu), mu ~ Gamma(S + 1/2, rate=years), by numerical integration."""
    shape = history_sum + 0.5
    dens = stats.gamma(shape, scale=1 / years)

    def integrand(mu: float) -> float:
        return float(stats.poisson.cdf(x, mu) * dens.pdf(mu))

    value, _ = integrate.quad(integrand, 0, np.inf, limit=200)
    return float(value)


@pytest.mark.parametrize(("history_sum", "years"), [(12, 1), (40, 3), (0, 2)])
def test_predictive_interval_is_the_poisson_gamma_mixture(history_sum: int, years: int) -> None:
    months = [f"{2020 + y}-03" for y in range(years + 1)]
    per_year = [history_sum // years] * years
    per_year[0] += history_sum - sum(per_year)
    base = seasonal_baseline(np.array([[*per_year, 0]]), months)
    low, high = int(base.ci_low[0, -1]), int(base.ci_high[0, -1])
    # Central interval: the smallest x with P(X <= x) >= 2.5 % and >= 97.5 %.
    assert (
        _mixture_cdf(high, history_sum, years) >= 0.975 > _mixture_cdf(high - 1, history_sum, years)
    )
    assert _mixture_cdf(low, history_sum, years) >= 0.025
    assert low == 0 or _mixture_cdf(low - 1, history_sum, years) < 0.025


def test_predictive_interval_flags_at_about_the_nominal_rate() -> None:
    # 20,000 areas with the same true rate each year: an honest 95 % interval flags about 5 %
    # of them, the naive Poisson(mean of one year) interval several times as many.
    rng = np.random.default_rng(2024)
    counts = rng.poisson(20.0, size=(20_000, 2))
    months = ["2022-07", "2023-07"]
    predictive = seasonal_baseline(counts, months).flag[:, 1]
    naive = seasonal_baseline(counts, months, interval="poisson").flag[:, 1]
    assert np.mean(predictive != 0) <= 0.06
    assert np.mean(naive != 0) >= 0.12


@pytest.mark.parametrize(
    ("counts", "months", "kwargs"),
    [
        ([[1, 2]], ["2022-01"], {}),
        ([[1, 2]], ["2022-01", "2022-01"], {}),
        ([[1, 2]], ["2022-01", "2022-13"], {}),
        ([[1, -2]], ["2022-01", "2023-01"], {}),
        ([[1, 2]], ["2022-01", "2023-01"], {"min_years": 0}),
        ([[1, 2]], ["2022-01", "2023-01"], {"interval": "normal"}),
        ([1, 2], ["2022-01", "2023-01"], {}),
    ],
)
def test_seasonal_baseline_rejects(
    counts: list[object], months: list[str], kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        seasonal_baseline(np.array(counts), months, **kwargs)  # type: ignore[arg-type]
