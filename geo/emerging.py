"""Emerging hot spot analysis: Gi* per month plus a Mann–Kendall trend per feature.

Follows Esri's "How Emerging Hot Spot Analysis works" (ArcGIS Pro, Space Time Pattern Mining). Each
monthly slice gets a Gi* z-score per feature (:func:`geo.hotspots.gi_star`, binary weights with
the feature itself); a bin is a significant hot (cold) spot when its Benjamini–Hochberg q-value,
over the features of that month, is below ``alpha`` and its z is positive (negative) — ArcGIS Pro
also applies the FDR correction. Neighbours are spatial only: unlike the ArcGIS space-time cube
(``Neighborhood Time Step``) no time-lagged neighbours are added, so each month stands alone and
the trend test sees independent monthly Gi* values. The Mann–Kendall test on each feature's
series of Gi* z-scores gives the trend.

Esri's definitions, from the ArcGIS Pro page (hot versions; the cold ones mirror them):

* New hot spot — "a statistically significant hot spot for the final time step and has never been
  a statistically significant hot spot before."
* Consecutive hot spot — "a single uninterrupted run of at least two statistically significant hot
  spot bins in the final time-step intervals. The location has never been a statistically
  significant hot spot prior to the final hot spot run and less than ninety percent of all bins are
  statistically significant hot spots."
* Intensifying hot spot — "a statistically significant hot spot for ninety percent of the time-step
  intervals, including the final time step. In addition, the intensity of clustering of high
  counts in each time step is increasing overall and that increase is statistically significant."
* Persistent hot spot — "a statistically significant hot spot for ninety percent of the time-step
  intervals with no discernible trend in the intensity of clustering over time."
* Diminishing hot spot — "a statistically significant hot spot for ninety percent of the time-step
  intervals, including the final time step. In addition, the intensity of clustering in each time
  step is decreasing overall and that decrease is statistically significant."
* Sporadic hot spot — "a statistically significant hot spot for the final time-step interval with
  a history of also being an on-again and off-again hot spot. Less than ninety percent of the
  time-step intervals have been statistically significant hot spots and none of the time-step
  intervals have been statistically significant cold spots."
* Oscillating hot spot — "a statistically significant hot spot for the final time-step interval
  that has a history of also being a statistically significant cold spot during a prior time
  step. Less than ninety percent of the time-step intervals have been statistically significant
  hot spots."
* Historical hot spot — "the most recent time period is not hot, but at least ninety percent of the
  time-step intervals have been statistically significant hot spots."

Where the wording leaves overlaps, this module decides (in this order): the final slice decides
the side (final hot → a hot pattern; final cold → a cold pattern; final not significant → only
"historical" can apply); "ninety percent" means at least 90 % of the slices
(``10 * hot >= 9 * months``), and with that many hot slices and the final hot, the trend picks
intensifying / diminishing / persistent (so persistent also ends hot); any significant cold slice
makes a final-hot location oscillating, so new and consecutive hot spots have no significant
slice of either kind before their final run (as the sfdep implementation does); sporadic is the
remaining final-hot case.
A trend is significant when its two-sided Mann–Kendall p-value is below ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from numpy.typing import NDArray
from scipy.special import ndtr

from geo.errors import InvalidInput
from geo.hotspots import gi_star
from geo.weights import grid_queen

FloatArray = NDArray[np.float64]

#: Fewest monthly slices the analysis accepts (a trend over fewer is not worth reporting).
MIN_MONTHS = 12

NO_PATTERN = "no pattern detected"
_PATTERNS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
#: Every category label, hot then cold then no pattern.
CATEGORIES = (
    *(f"{p} hot spot" for p in _PATTERNS),
    *(f"{p} cold spot" for p in _PATTERNS),
    NO_PATTERN,
)


@dataclass(frozen=True, eq=False)
class EmergingResult:
    """Per-feature emerging hot spot category and trend.

    ``category`` holds one of :data:`CATEGORIES` per feature; ``trend_z``/``trend_p`` are the
    Mann–Kendall z (continuity corrected) and two-sided p of the feature's monthly Gi* z-scores;
    ``slices_hot``/``slices_cold`` count its significant hot/cold months; ``gi_z`` is
    ``[n_features, n_months]`` of the monthly Gi* z-scores.
    """

    category: NDArray[np.str_]
    trend_z: FloatArray
    trend_p: FloatArray
    slices_hot: NDArray[np.int64]
    slices_cold: NDArray[np.int64]
    gi_z: FloatArray


def mann_kendall(
    series: NDArray[np.floating] | NDArray[np.integer], continuity: bool = True
) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Mann–Kendall trend test of each row of ``[n_features, n_times]``.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var(S) = (n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` over
    the groups of ``t`` tied values; ``z = (S - sign(S)) / sqrt(Var(S))`` with the continuity
    correction (``S / sqrt(Var(S))`` without it), 0 when the variance is 0; ``p`` two-sided normal.

    Raises
    ------
    InvalidInput
        Not a 2-D array of finite numbers with at least two columns.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2 or not np.isfinite(x).all():
        raise InvalidInput("series must be a 2-D array of finite numbers, one row per feature")
    rows, n = x.shape
    s = np.zeros(rows, dtype=np.int64)
    for lag in range(1, n):
        s += np.sign(x[:, lag:] - x[:, :-lag]).astype(np.int64).sum(axis=1)
    ordered = np.sort(x, axis=1)
    starts = np.ones_like(ordered, dtype=np.bool_)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(starts, axis=1) - 1 + np.arange(rows)[:, None] * n
    t = np.bincount(group.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)
    var = (n * (n - 1) * (2 * n + 5) - (t * (t - 1) * (2 * t + 5)).sum(axis=1)) / 18.0
    num = (s - np.sign(s)) if continuity else s
    z = np.divide(num, np.sqrt(var), out=np.zeros(rows), where=var > 0)
    return s, z, 2.0 * ndtr(-np.abs(z))


def emerging_hotspots(
    counts: NDArray[np.floating] | NDArray[np.integer],
    weights_or_mask: scipy.sparse.csr_matrix | NDArray[np.bool_],
    alpha: float = 0.05,
) -> EmergingResult:
    """Classify features by the history of their monthly Gi* hot/cold spots.

    Parameters
    ----------
    counts : numpy.ndarray
        ``[n_features, n_months]`` counts (or other values), months in time order.
    weights_or_mask : scipy.sparse matrix or numpy.ndarray
        Binary spatial weights including each feature itself (see :func:`geo.hotspots.gi_star`),
        or a bool ``[ny, nx]`` grid mask whose ``n_features`` masked cells, in row-major order,
        are the rows of ``counts`` (queen contiguity with self is then used).
    alpha : float
        Significance level for the monthly FDR q-values and for the trend p-value.

    Returns
    -------
    EmergingResult

    Raises
    ------
    InvalidInput
        Fewer than 12 months, shapes that do not agree, bad weights, or ``alpha`` not in (0, 1).
    """
    x = np.asarray(counts, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < MIN_MONTHS:
        raise InvalidInput(
            f"counts must be [n_features, n_months] with at least {MIN_MONTHS} months"
        )
    if not 0 < alpha < 1:
        raise InvalidInput(f"alpha must be in (0, 1); got {alpha!r}")
    w = _weights(weights_or_mask, x.shape[0])
    z = np.empty_like(x)
    hot = np.empty(x.shape, dtype=np.bool_)
    cold = np.empty(x.shape, dtype=np.bool_)
    for month in range(x.shape[1]):
        res = gi_star(x[:, month], w)
        z[:, month] = res.gi_z
        significant = res.q_value < alpha
        hot[:, month] = significant & (res.gi_z > 0)
        cold[:, month] = significant & (res.gi_z < 0)
    _, trend_z, trend_p = mann_kendall(z)
    up = (trend_p < alpha) & (trend_z > 0)
    down = (trend_p < alpha) & (trend_z < 0)
    hot_label = _classify(hot, cold, up, down, "hot spot")
    cold_label = _classify(cold, hot, down, up, "cold spot")
    category = np.where(hot_label != NO_PATTERN, hot_label, cold_label)
    return EmergingResult(
        category=category,
        trend_z=trend_z,
        trend_p=trend_p,
        slices_hot=hot.sum(axis=1).astype(np.int64),
        slices_cold=cold.sum(axis=1).astype(np.int64),
        gi_z=z,
    )


def _weights(
    weights_or_mask: scipy.sparse.csr_matrix | NDArray[np.bool_], n: int
) -> scipy.sparse.csr_matrix:
    if scipy.sparse.issparse(weights_or_mask):
        return scipy.sparse.csr_matrix(weights_or_mask, dtype=np.float64)
    mask = np.asarray(weights_or_mask)
    if mask.dtype != np.bool_ or mask.ndim != 2:
        raise InvalidInput("weights_or_mask must be sparse weights or a 2-D boolean grid mask")
    if int(mask.sum()) != n:
        raise InvalidInput(f"the mask has {int(mask.sum())} cells but counts has {n} rows")
    return grid_queen(mask, include_self=True)


def _classify(
    same: NDArray[np.bool_],
    other: NDArray[np.bool_],
    rising: NDArray[np.bool_],
    falling: NDArray[np.bool_],
    kind: str,
) -> NDArray[np.str_]:
    """Labels for one side: ``same`` = significant bins of that side, ``other`` = opposite side.

    For cold spots the caller swaps the sides and the trend directions, so "intensifying" is
    always a significant trend away from zero.
    """
    months = same.shape[1]
    n_same = same.sum(axis=1)
    final = same[:, -1]
    mostly = 10 * n_same >= 9 * months
    run = np.where(same.all(axis=1), months, np.argmax(~same[:, ::-1], axis=1))
    before = n_same > run
    had_other = other.any(axis=1)
    fresh = final & ~mostly & ~had_other & ~before
    conditions = [
        fresh & (run == 1),
        fresh & (run >= 2),
        final & mostly & rising,
        final & mostly & ~rising & ~falling,
        final & mostly & falling,
        final & ~mostly & ~had_other & before,
        final & ~mostly & had_other,
        ~final & mostly & ~other[:, -1],
    ]
    labels = [f"{p} {kind}" for p in _PATTERNS]
    chosen: NDArray[np.str_] = np.select(conditions, labels, default=NO_PATTERN).astype(np.str_)
    return chosen
