"""Crude rates per 1,000 residents with exact Poisson confidence intervals.

A count of incidents in an area over a period is treated as one draw from a Poisson distribution;
its exact (Garwood 1936) interval comes from chi-square quantiles, and the rate interval is that
interval divided by the resident population. Small counts give wide intervals and are flagged
``unstable`` so that maps do not rank areas on noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import stats

from geo.aggregate import month_number
from geo.errors import InvalidInput

__all__ = [
    "MIN_STABLE_COUNT",
    "RateTable",
    "as_counts",
    "nearest_year",
    "poisson_ci",
    "rates_per_1000",
]

#: Rates on fewer events than this are flagged ``unstable``. Source: the Office for National
#: Statistics does not calculate age-standardised rates on fewer than 10 events (deaths) because
#: they are unreliable, and marks rates on fewer than 20 with "(u)" (ONS, *User guide to mortality
#: statistics*, section 15, restated in ONS FOI/2021/3301); Public Health England's Fingertips
#: technical guidance likewise switches to exact intervals below 10 events. Pass
#: ``min_stable_count=20`` to :func:`rates_per_1000` for the stricter ONS "(u)" marker.
MIN_STABLE_COUNT: Final = 10

_PER: Final = 1000.0


def as_counts(
    values: npt.ArrayLike, name: str = "counts", *, integer: bool = False
) -> npt.NDArray[Any]:
    """Validate event counts: finite, non-negative numbers (integers if ``integer``).

    Returns the array (int64 when every value is a whole number stored as an integer type,
    float64 otherwise). Fractional counts are allowed unless ``integer`` because counts
    re-apportioned between boundary versions are fractional.

    Raises
    ------
    InvalidInput
        If a value is negative, not finite, not numeric, or (with ``integer``) not a whole number.
    """
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise InvalidInput(f"{name} must be numeric, got {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.int64, copy=False)
    else:
        arr = arr.astype(np.float64, copy=False)
        if not np.isfinite(arr).all():
            raise InvalidInput(f"{name} must be finite")
        if integer and (arr != np.round(arr)).any():
            raise InvalidInput(f"{name} must be whole numbers")
    if arr.size and arr.min() < 0:
        raise InvalidInput(f"{name} must not be negative")
    return arr


def _alpha(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidInput(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return 1.0 - float(confidence)


def poisson_ci(
    counts: npt.ArrayLike, confidence: float = 0.95
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Exact (Garwood) confidence interval for the mean of a Poisson count.

    ``low = chi2.ppf(a/2, 2k) / 2`` (0 when ``k = 0``) and ``high = chi2.ppf(1 - a/2, 2k + 2) / 2``
    with ``a = 1 - confidence``; e.g. 95 % limits for 10 events are 4.795 to 18.390 and for 0
    events 0 to 3.689. The interval is central: each tail has probability at most ``a/2``.

    Parameters
    ----------
    counts : array_like
        Observed numbers of events, any shape; non-negative (fractional counts are accepted and
        use the same gamma-quantile formula).
    confidence : float
        Two-sided confidence level, strictly between 0 and 1.

    Returns
    -------
    low, high : numpy.ndarray of float64, same shape as ``counts``
        Limits for the expected number of events (not a rate).

    Raises
    ------
    InvalidInput
        On negative or non-finite counts or a confidence level outside (0, 1).
    """
    alpha = _alpha(confidence)
    k = as_counts(counts).astype(np.float64)
    # chi2 with 0 degrees of freedom is undefined; the k = 0 lower limit is 0 by definition.
    low = np.where(k > 0, stats.chi2.ppf(alpha / 2, np.maximum(2 * k, 1.0)) / 2, 0.0)
    high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class RateTable:
    """Counts, populations and rates per 1,000 residents, one entry per area.

    Attributes
    ----------
    count : numpy.ndarray
        Events per area (int64, or float64 for fractional counts).
    population : numpy.ndarray of float64
        Resident population per area.
    rate_per_1000 : numpy.ndarray of float64
        ``1000 * count / population``; NaN where the population is not positive (or unknown).
    ci_low, ci_high : numpy.ndarray of float64
        Exact Poisson confidence limits of the rate, per 1,000 residents; NaN as ``rate_per_1000``.
    unstable : numpy.ndarray of bool
        True where the count is below the stability threshold (:data:`MIN_STABLE_COUNT` = 10 by
        default): the rate is too noisy to rank or colour areas on.
    """

    count: npt.NDArray[Any]
    population: npt.NDArray[np.float64]
    rate_per_1000: npt.NDArray[np.float64]
    ci_low: npt.NDArray[np.float64]
    ci_high: npt.NDArray[np.float64]
    unstable: npt.NDArray[np.bool_]


def rates_per_1000(
    counts: npt.ArrayLike,
    population: npt.ArrayLike,
    confidence: float = 0.95,
    *,
    min_stable_count: float = MIN_STABLE_COUNT,
) -> RateTable:
    """Crude rate per 1,000 residents with its exact Poisson confidence interval.

    Parameters
    ----------
    counts : array_like
        Events per area (non-negative).
    population : array_like
        Residents per area, same shape; areas with a population that is zero, negative or NaN get
        NaN rates and limits (a rate needs a population at risk).
    confidence : float
        Confidence level of the interval, strictly between 0 and 1.
    min_stable_count : float, keyword-only
        Counts below this are flagged ``unstable`` (default :data:`MIN_STABLE_COUNT`).

    Returns
    -------
    RateTable

    Raises
    ------
    InvalidInput
        On negative or non-finite counts, mismatched shapes, infinite or non-numeric populations,
        or a confidence level outside (0, 1).
    """
    count = as_counts(counts)
    pop = np.asarray(population)
    if not np.issubdtype(pop.dtype, np.number) or pop.dtype == np.bool_:
        raise InvalidInput(f"population must be numeric, got {pop.dtype}")
    pop = pop.astype(np.float64)
    if pop.shape != count.shape:
        raise InvalidInput(f"counts {count.shape} and population {pop.shape} differ in shape")
    if np.isinf(pop).any():
        raise InvalidInput("population must be finite")
    low, high = poisson_ci(count, confidence)
    at_risk = pop > 0  # NaN compares false, so an unknown population also gives NaN rates
    per = np.divide(_PER, pop, out=np.full(pop.shape, np.nan), where=at_risk)
    return RateTable(
        count=count,
        population=pop,
        rate_per_1000=count * per,
        ci_low=low * per,
        ci_high=high * per,
        unstable=np.asarray(count < min_stable_count),
    )


def nearest_year(available: Sequence[int], first_month: str, last_month: str) -> int:
    """The population year nearest the middle of the period ``first_month`` … ``last_month``.

    ONS population estimates are mid-year (30 June) figures, so year ``Y`` is placed at the start
    of July of ``Y``, and the period runs from the start of ``first_month`` to the end of
    ``last_month``. Ties go to the earlier year. For example the year to June 2023
    (2022-07 … 2023-06) is centred on 1 January 2023, equally far from mid-2022 and mid-2023,
    and takes 2022.

    Parameters
    ----------
    available : sequence of int
        Years with a population estimate.
    first_month, last_month : str
        ``"YYYY-MM"``, inclusive.

    Raises
    ------
    InvalidInput
        If no year is available, a month is malformed or ``first_month`` is after ``last_month``.
    """
    years = sorted({int(y) for y in available})
    if not years:
        raise InvalidInput("no population year is available")
    start, stop = month_number(first_month), month_number(last_month)
    if start > stop:
        raise InvalidInput(f"first month {first_month} is after last month {last_month}")
    # Twice the middle, in months, keeps the arithmetic in integers (no float ties).
    middle2 = start + stop + 1
    distance = [abs(middle2 - 2 * (12 * y + 6)) for y in years]
    return years[distance.index(min(distance))]
