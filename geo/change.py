"""Is it getting worse? Exact comparisons of two periods and seasonal baselines.

Two Poisson counts ``c1`` (current) and ``c2`` (previous) are compared conditionally on their total
``n = c1 + c2``: under equal rates, ``c1 ~ Binomial(n, r / (1 + r))`` where ``r`` is the ratio of
the exposures (period lengths or populations). The test is exact and needs no large-sample
approximation, so it stays honest for the small counts of a single neighbourhood.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from geo.aggregate import month_numbers
from geo.errors import InvalidInput
from geo.rates import as_counts

__all__ = ["Change", "SeasonalBaseline", "compare_periods", "seasonal_baseline"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Labels of ``Change.direction``.
BETTER: Final = "better"
WORSE: Final = "worse"
NO_CHANGE: Final = "no significant change"

# scipy.stats.binomtest counts outcomes "as extreme" with this relative tolerance on the pmf.
_RERR: Final = 1 + 1e-7


@dataclass(frozen=True, eq=False)
class Change:
    """Per-area comparison of a current period with a previous one.

    Attributes
    ----------
    current, previous : numpy.ndarray of int64
        The counts compared.
    pct_change : numpy.ndarray of float64
        ``100 * (ratio - 1)``: the percentage change in the rate (equal to the change in the count
        when the periods are equally long); NaN when ``previous == 0``.
    ratio : numpy.ndarray of float64
        Rate ratio current / previous, ``(current / previous) / exposure_ratio``; NaN when
        ``previous == 0``.
    ratio_ci_low, ratio_ci_high : numpy.ndarray of float64
        Exact interval for the rate ratio from the Clopper-Pearson interval of the conditional
        binomial proportion; ``ratio_ci_high`` is ``inf`` when ``previous == 0``.
    p_value : numpy.ndarray of float64
        Two-sided exact conditional test of equal rates (as ``scipy.stats.binomtest``); 1 when
        both counts are 0.
    direction : numpy.ndarray of str
        ``"better"``, ``"worse"`` or ``"no significant change"`` (``p_value >= alpha``).
    """

    current: IntArray
    previous: IntArray
    pct_change: FloatArray
    ratio: FloatArray
    ratio_ci_low: FloatArray
    ratio_ci_high: FloatArray
    p_value: FloatArray
    direction: npt.NDArray[np.str_]


def _binary_search(
    f: Callable[[IntArray], FloatArray], d: FloatArray, lo: IntArray, hi: IntArray
) -> IntArray:
    """Element-wise ``scipy.stats._binomtest._binary_search_for_binom_tst``.

    Returns ``i`` in ``[lo - 1, hi]`` with ``f(i) <= d < f(i + 1)`` for ``f`` ascending on
    ``[lo, hi]``. The loop runs over bisection steps (about log2 of the largest count), never over
    areas; every element follows exactly the branch scipy would take, so the p-values agree to the
    last bit.
    """
    lo, hi = lo.copy(), hi.copy()
    result = np.zeros_like(lo)
    found = np.zeros(lo.shape, dtype=bool)
    while True:
        active = ~found & (lo < hi)
        if not active.any():
            break
        mid = lo + (hi - lo) // 2
        value = f(mid)
        hit = active & (value == d)
        result = np.where(hit, mid, result)
        found |= hit
        lo = np.where(active & (value < d), mid + 1, lo)
        hi = np.where(active & (value > d), mid - 1, hi)
    at_lo = np.where(f(lo) <= d, lo, lo - 1)
    return np.where(found, result, at_lo)


def _binom_two_sided(k: IntArray, n: IntArray, p: float) -> FloatArray:
    """Two-sided exact binomial p-value, element-wise, defined as ``scipy.stats.binomtest``.

    The p-value sums the probabilities of every outcome no more likely than the one observed
    (the "minlike" rule, with scipy's relative tolerance 1e-7). ``n = 0`` gives 1.
    """
    pval = np.ones(k.shape, dtype=np.float64)
    d = stats.binom.pmf(k, n, p)
    expected = p * n
    below = (n > 0) & (k < expected)
    above = (n > 0) & (k > expected)
    if below.any():
        kb, nb, db = k[below], n[below], d[below]
        ix = _binary_search(
            lambda x: -stats.binom.pmf(x, nb, p),
            -db * _RERR,
            np.ceil(p * nb).astype(np.int64),
            nb,
        )
        y = nb - ix + (db * _RERR == stats.binom.pmf(ix, nb, p))
        pval[below] = stats.binom.cdf(kb, nb, p) + stats.binom.sf(nb - y, nb, p)
    if above.any():
        ka, na, da = k[above], n[above], d[above]
        ix = _binary_search(
            lambda x: stats.binom.pmf(x, na, p),
            da * _RERR,
            np.zeros_like(na),
            np.floor(p * na).astype(np.int64),
        )
        pval[above] = stats.binom.cdf(ix, na, p) + stats.binom.sf(ka - 1, na, p)
    return np.minimum(pval, 1.0)


def _clopper_pearson(k: IntArray, n: IntArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    """Exact central interval for a binomial proportion; ``[0, 1]`` when ``n = 0``."""
    low = np.where(k > 0, stats.beta.ppf(alpha / 2, np.maximum(k, 1), n - k + 1), 0.0)
    high = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1)), 1.0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def _odds_over(p: FloatArray, r: float) -> FloatArray:
    """``p / (1 - p) / r`` with ``p = 1`` mapping to ``inf`` (no division warning)."""
    odds = np.divide(p, 1.0 - p, out=np.full(p.shape, np.inf), where=p < 1.0)
    return np.asarray(odds / r, dtype=np.float64)


def _direction(
    significant: npt.NDArray[np.bool_], up: npt.NDArray[np.bool_], higher_is_worse: bool
) -> npt.NDArray[np.str_]:
    worse = up if higher_is_worse else ~up
    code = np.where(significant, np.where(worse, 1, 0), 2)
    return np.array([BETTER, WORSE, NO_CHANGE])[code]


def compare_periods(
    current: npt.ArrayLike,
    previous: npt.ArrayLike,
    exposure_ratio: float = 1.0,
    alpha: float = 0.05,
    higher_is_worse: bool = True,
) -> Change:
    """Compare current and previous counts, area by area, with an exact conditional test.

    Given ``n = current + previous``, under equal rates ``current ~ Binomial(n, p0)`` with
    ``p0 = r / (1 + r)`` and ``r = exposure_ratio``. The p-value is the two-sided exact binomial
    p-value exactly as ``scipy.stats.binomtest`` (and
    ``statsmodels.stats.rates.test_poisson_2indep(method="exact-cond")``) computes it; the rate
    ratio interval is the Clopper-Pearson interval ``[pl, ph]`` of ``current / n`` mapped through
    ``p / (1 - p) / r``. The test (minimum-likelihood two-sided) and the central interval are
    the standard pair, but near ``alpha`` they can disagree on whether 1 is excluded; the
    ``direction`` follows the test.

    Parameters
    ----------
    current, previous : array_like of int
        Counts per area, same shape, non-negative whole numbers.
    exposure_ratio : float
        Length (or population) of the current period divided by that of the previous one.
    alpha : float
        Significance level of the test; the interval has confidence ``1 - alpha``.
    higher_is_worse : bool
        Whether an increase is "worse" (crime) or "better" (e.g. detections).

    Returns
    -------
    Change

    Raises
    ------
    InvalidInput
        On negative, fractional or mis-shaped counts, a non-positive ``exposure_ratio`` or an
        ``alpha`` outside (0, 1).
    """
    c1 = as_counts(current, "current", integer=True).astype(np.int64)
    c2 = as_counts(previous, "previous", integer=True).astype(np.int64)
    if c1.shape != c2.shape:
        raise InvalidInput(f"current {c1.shape} and previous {c2.shape} differ in shape")
    r = float(exposure_ratio)
    if not (np.isfinite(r) and r > 0):
        raise InvalidInput(f"exposure_ratio must be positive and finite, got {exposure_ratio!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise InvalidInput(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    n = c1 + c2
    p0 = r / (1.0 + r)
    p_value = _binom_two_sided(c1, n, p0)
    p_low, p_high = _clopper_pearson(c1, n, float(alpha))
    ratio = np.divide(c1, c2 * r, out=np.full(c1.shape, np.nan), where=c2 > 0)
    return Change(
        current=c1,
        previous=c2,
        pct_change=100.0 * (ratio - 1.0),
        ratio=ratio,
        ratio_ci_low=_odds_over(p_low, r),
        ratio_ci_high=_odds_over(p_high, r),
        p_value=p_value,
        direction=_direction(p_value < alpha, c1 > n * p0, higher_is_worse),
    )


@dataclass(frozen=True, eq=False)
class SeasonalBaseline:
    """Each area-month against the same calendar month in earlier years.

    Attributes
    ----------
    expected : numpy.ndarray of float64, shape (n_areas, n_months)
        Mean count of the same calendar month in the earlier years present in ``months``; NaN where
        fewer than ``min_years`` earlier years exist.
    years_used : numpy.ndarray of int64, shape (n_areas, n_months)
        How many earlier years each expectation averages (the same for every area).
    ci_low, ci_high : numpy.ndarray of float64, shape (n_areas, n_months)
        Range of counts consistent with the expectation (see ``method``); NaN without history.
    flag : numpy.ndarray of int8, shape (n_areas, n_months)
        +1 where the count is above ``ci_high``, -1 below ``ci_low``, 0 within or without history.
    method : str
        How the interval was computed, for captions.
    """

    expected: FloatArray
    years_used: IntArray
    ci_low: FloatArray
    ci_high: FloatArray
    flag: npt.NDArray[np.int8]
    method: str


def _history_matrix(months: list[str] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``H[i, j] = 1`` where column ``i`` is the same calendar month as ``j`` in an earlier year."""
    numbers = month_numbers(np.asarray(months))
    if np.unique(numbers).size != numbers.size:
        raise InvalidInput("months must be distinct")
    year, calendar = np.divmod(numbers, 12)
    same = calendar[:, None] == calendar[None, :]
    earlier = year[:, None] < year[None, :]
    matrix: npt.NDArray[np.float64] = (same & earlier).astype(np.float64)
    return matrix


def _expected_range(
    history_sum: FloatArray, years: IntArray, alpha: float, interval: str
) -> tuple[FloatArray, FloatArray]:
    """Central ``1 - alpha`` range of a new count given ``history_sum`` events in ``years``."""
    q = np.array([alpha / 2, 1 - alpha / 2])[:, None, None]
    if interval == "poisson":
        limits = stats.poisson.ppf(q, history_sum / years)
    else:
        # Poisson-gamma predictive: rate ~ Gamma(S + 1/2, years) (Jeffreys prior), so the new
        # count is negative binomial; unlike Poisson(mean) it allows for the noise in the
        # baseline itself, which with one or two years of history is as large as the signal.
        limits = stats.nbinom.ppf(q, history_sum + 0.5, years / (years + 1.0))
    return np.asarray(limits[0], dtype=np.float64), np.asarray(limits[1], dtype=np.float64)


def seasonal_baseline(
    counts: npt.ArrayLike,
    months: list[str],
    min_years: int = 1,
    *,
    confidence: float = 0.95,
    interval: Literal["predictive", "poisson"] = "predictive",
) -> SeasonalBaseline:
    """Expected count of each area-month from the same calendar month in earlier years.

    Parameters
    ----------
    counts : array_like of int, shape (n_areas, n_months)
        Counts per area and month (e.g. from :func:`geo.aggregate.count_by_area_month`).
    months : list of str
        The ``"YYYY-MM"`` month of each column; distinct, any order, gaps allowed (a missing month
        simply contributes no history).
    min_years : int
        Fewest earlier years needed for an expectation; with fewer, ``expected`` is NaN and the
        flag 0.
    confidence : float, keyword-only
        Coverage of the interval (default 0.95).
    interval : {"predictive", "poisson"}, keyword-only
        ``"predictive"`` (default): the central interval of the Poisson-gamma (negative binomial)
        predictive distribution of a new count given the history, which allows for the
        uncertainty of the baseline mean, so that roughly ``1 - confidence`` of ordinary months
        are flagged however short the history. ``"poisson"``: central quantiles of
        ``Poisson(expected)``, which treats the baseline as known and flags far too often with
        one or two years of history.

    Returns
    -------
    SeasonalBaseline

    Raises
    ------
    InvalidInput
        On a counts array that is not two-dimensional, negative or fractional counts, a months
        list of the wrong length, malformed or repeated months, ``min_years < 1``, or an unknown
        ``interval``.
    """
    table = as_counts(counts, integer=True).astype(np.int64)
    alpha = _check_baseline_args(table, months, min_years, confidence, interval)
    history = _history_matrix(months)
    years = np.broadcast_to(history.sum(axis=0).astype(np.int64), table.shape).copy()
    history_sum = table.astype(np.float64) @ history
    has = years >= min_years
    safe_years = np.maximum(years, 1)
    low, high = _expected_range(history_sum, safe_years, alpha, interval)
    flag = np.where(table > high, 1, np.where(table < low, -1, 0))
    nan = np.full(table.shape, np.nan)
    return SeasonalBaseline(
        expected=np.where(has, history_sum / safe_years, nan),
        years_used=years,
        ci_low=np.where(has, low, nan),
        ci_high=np.where(has, high, nan),
        flag=np.where(has, flag, 0).astype(np.int8),
        method=_method_caption(interval, float(confidence)),
    )


def _check_baseline_args(
    table: IntArray, months: list[str], min_years: int, confidence: float, interval: str
) -> float:
    """Validate :func:`seasonal_baseline`'s arguments; return ``alpha = 1 - confidence``."""
    if table.ndim != 2 or table.shape[1] != len(months):
        raise InvalidInput(f"counts must have shape (n_areas, {len(months)}), got {table.shape}")
    if isinstance(min_years, bool) or not isinstance(min_years, int) or min_years < 1:
        raise InvalidInput(f"min_years must be a positive integer, got {min_years!r}")
    if interval not in ("predictive", "poisson"):
        raise InvalidInput(f"interval must be 'predictive' or 'poisson', got {interval!r}")
    alpha = 1.0 - float(confidence)
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return alpha


def _method_caption(interval: str, confidence: float) -> str:
    if interval == "poisson":
        return f"{confidence:.0%} central Poisson interval around the seasonal mean"
    return (
        f"{confidence:.0%} Poisson-gamma predictive interval "
        "(same calendar month in earlier years, Jeffreys prior)"
    )
