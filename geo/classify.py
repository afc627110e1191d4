"""Choropleth classification: quantiles, Fisher–Jenks natural breaks, equal interval, fixed breaks.

A map is classified once over all its areas (never per tile) so that every tile and the legend
agree. The breaks reproduce mapclassify's ``Quantiles``, ``FisherJenks``, ``EqualInterval`` and
``UserDefined`` ``.bins``; where mapclassify behaves oddly we follow it and say so:

* quantiles use mapclassify's percentile grid ``np.arange(100/k, 100 + 100/k, 100/k)`` (last
  point clipped to 100) and scipy's ``scoreatpercentile`` interpolation; tied quantiles collapse,
  so heavily tied data get fewer than ``k`` classes (mapclassify warns; we record it);
* equal interval uses mapclassify's ``np.arange`` cut points with the last forced to the maximum;
* fixed breaks get the data maximum appended when the last break is below it (``UserDefined``).

Where mapclassify raises we degrade instead and record it in :attr:`Classification.note`: with
fewer distinct values than ``k`` (natural breaks, equal interval) ``k`` is reduced to the number of
distinct values.

Natural breaks is the exact Fisher (1958) optimum (least total within-class sum of squares) by
dynamic programming over the distinct values, each weighted by how often it occurs (an optimal
partition never splits tied values, so this equals mapclassify's DP over every value). Above
:data:`MAX_DP_GROUPS` distinct values, consecutive distinct values are pooled into that many
groups that keep their exact count, sum and sum of squares; the DP is then exact over partitions
whose breaks fall on group edges (deterministic, unlike mapclassify's random
``FisherJenksSampled``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from geo.errors import InvalidInput
from geo.wording import count_of, tidy

Method = Literal["quantiles", "natural_breaks", "equal_interval", "fixed"]
METHODS: tuple[str, ...] = ("quantiles", "natural_breaks", "equal_interval", "fixed")

#: Largest number of classes accepted; more is unreadable on a map.
MAX_K = 20
#: Above this many distinct values natural breaks pools neighbouring values (see module docs).
MAX_DP_GROUPS = 2000
#: Columns of the DP cost matrix evaluated at once (bounds memory to ~MAX_DP_GROUPS x 256 floats).
_DP_BLOCK = 256

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Classification:
    """Class breaks of one map, computed once over all areas.

    Class ``i`` holds values ``v`` with ``breaks[i-1] < v <= breaks[i]``; class 0 holds
    ``v <= breaks[0]`` (the mapclassify convention).

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    k : int
        Number of classes actually formed (``len(breaks)``).
    breaks : numpy.ndarray
        float64 upper bounds of the classes, ascending; read-only.
    minimum : float
        Smallest classified value (lower bound of class 0 in labels).
    requested_k : int
        ``k`` as asked for (for fixed breaks: the number of breaks given).
    integer_valued : bool
        Every classified value was a whole number (counts); labels then show whole-number ranges.
    note : str
        Why ``k`` differs from ``requested_k`` or how breaks were derived; empty when nothing
        unusual happened.
    """

    method: str
    k: int
    breaks: FloatArray
    minimum: float
    requested_k: int = 0
    integer_valued: bool = False
    note: str = ""

    @property
    def reduced(self) -> bool:
        """True when fewer classes were formed than requested."""
        return self.k < self.requested_k

    def classes(self, values: np.ndarray) -> NDArray[np.int16]:
        """Class index of each value.

        Parameters
        ----------
        values : numpy.ndarray
            Values in the same units as the classified data, any shape.

        Returns
        -------
        numpy.ndarray
            int16 of the same shape: 0..k-1, or -1 for NaN. Values above the last break fall in
            the top class and values below the minimum in class 0 (mapclassify would put values
            above the last break in class 0).

        Raises
        ------
        InvalidInput
            ``values`` is not numeric.
        """
        array = _as_float(values)
        position = np.minimum(np.searchsorted(self.breaks, array, side="left"), self.k - 1)
        index: NDArray[np.int16] = position.astype(np.int16)
        index[np.isnan(array)] = -1
        return index

    def labels(
        self, fmt: str = "{:,.0f}", hidden_below: int = 0, values: np.ndarray | None = None
    ) -> list[str]:
        """Human-readable class ranges, e.g. ``["0 – 12", "13 – 40", ...]``.

        For whole-number data the ranges show the whole numbers each class can hold (upper
        ``floor(break)``, next lower ``floor(break) + 1``). For other data, given the mapped
        ``values``, each class shows the lowest and highest value it holds (``"0.51 – 0.97"``,
        ``"1.02 – 3.50"``: no shared edge to wonder about); without them neighbouring classes
        share their boundary value. A class that holds a single value shows just that value.

        Parameters
        ----------
        fmt : str, default ``"{:,.0f}"``
            ``str.format`` pattern for one number (use ``"{:,.1f}"`` for rates).
        hidden_below : int, default 0
            Whole numbers ``1 .. hidden_below - 1`` cannot be shown (suppressed small counts):
            ranges of whole-number data skip them, so a class reads ``"5 – 9"``, not
            ``"1 – 9"``. 0 or 1: nothing is hidden.

        Returns
        -------
        list of str
            One label per class.
        """
        lowers, uppers, hidden_only = self._label_bounds(hidden_below)
        if values is not None and not self.integer_valued:
            lowers, uppers = self._observed(values, lowers, uppers)
        labels = []
        for lower, upper, hidden in zip(lowers, uppers, hidden_only, strict=True):
            text_low, text_up = fmt.format(lower), fmt.format(upper)
            if hidden:
                text = f"none shown ({fmt.format(1)} – {fmt.format(hidden_below - 1)} hidden)"
            else:
                text = text_up if text_low == text_up else f"{text_low} – {text_up}"
            labels.append(text)
        return labels

    def bounds(self) -> tuple[list[float], list[float]]:
        """Numeric ``(lower, upper)`` of each class: minimum then previous break, and the break.

        Returns
        -------
        tuple of list of float
            Lower bounds (the first inclusive, the others exclusive) and upper bounds (inclusive).
        """
        uppers = [float(b) for b in self.breaks]
        lowers = [min(self.minimum, uppers[0]), *uppers[:-1]]
        return lowers, uppers

    def display_breaks(self) -> list[float]:
        """The breaks for JSON and labels, without floating-point noise (:func:`tidy`)."""
        return [tidy(float(b)) for b in self.breaks]

    def _observed(
        self, values: np.ndarray, lowers: list[float], uppers: list[float]
    ) -> tuple[list[float], list[float]]:
        """The lowest and highest value in each class (a class with none keeps its bounds)."""
        array = _as_float(values).ravel()
        array = array[np.isfinite(array)]
        cls = self.classes(array)
        low, high = list(lowers), list(uppers)
        for i in np.unique(cls).tolist():  # one step per class, not per value
            held = array[cls == i]
            low[i], high[i] = tidy(float(held.min())), tidy(float(held.max()))
        return low, high

    def _label_bounds(self, hidden_below: int = 0) -> tuple[list[float], list[float], list[bool]]:
        """Label bounds of each class, and whether only hidden whole numbers fall in it."""
        lowers, uppers = self.bounds()
        if not self.integer_valued:
            return [tidy(v) for v in lowers], [tidy(v) for v in uppers], [False] * self.k
        plain_up = [math.floor(u) for u in uppers]
        plain_low = [math.ceil(lowers[0]), *(u + 1 for u in plain_up[:-1])]
        int_up = [_visible_at_most(u, hidden_below) for u in plain_up]
        int_low = [_visible_at_least(lo, hidden_below) for lo in plain_low]
        pairs = list(zip(int_low, int_up, strict=True))
        hidden_only = [
            pl <= pu and il > iu
            for (il, iu), pl, pu in zip(pairs, plain_low, plain_up, strict=True)
        ]
        # A class that holds no whole number keeps the plain boundaries rather than an
        # inverted range such as "13 – 12".
        return (
            [il if il <= iu else lo for (il, iu), lo in zip(pairs, lowers, strict=True)],
            [iu if il <= iu else up for (il, iu), up in zip(pairs, uppers, strict=True)],
            hidden_only,
        )


def _visible_at_least(n: int, hidden_below: int) -> float:
    """The smallest whole number >= ``n`` outside the hidden ``1 .. hidden_below - 1``."""
    return float(hidden_below if 1 <= n < hidden_below else n)


def _visible_at_most(n: int, hidden_below: int) -> float:
    """The largest whole number <= ``n`` outside the hidden ``1 .. hidden_below - 1``."""
    return float(0 if 1 <= n < hidden_below else n)


def classify(
    values: np.ndarray,
    method: Method = "quantiles",
    k: int = 5,
    breaks: Sequence[float] | None = None,
) -> Classification:
    """Classify the values of one map (all areas) for a choropleth.

    Parameters
    ----------
    values : numpy.ndarray
        Values of every area (counts, rates per 1,000, ...), any shape; NaN (no data,
        suppressed) is ignored.
    method : {"quantiles", "natural_breaks", "equal_interval", "fixed"}
        Classification scheme; see the module docstring for how each matches mapclassify.
    k : int, default 5
        Number of classes wanted, 1..:data:`MAX_K`; ignored for ``"fixed"``.
    breaks : sequence of float, optional
        Upper class bounds for ``"fixed"`` (strictly increasing, finite); only for ``"fixed"``.

    Returns
    -------
    Classification
        Breaks and bookkeeping; ``k`` may be below ``requested_k`` (see ``note``).

    Raises
    ------
    InvalidInput
        Unknown method, ``k`` not an integer in 1..MAX_K, breaks missing/invalid or given for a
        method other than ``"fixed"``, infinite values, or no finite value to classify.
    """
    finite = _finite_values(values)
    if method not in METHODS:
        raise InvalidInput(f"unknown classification method {method!r}; choose {METHODS}")
    if method == "fixed":
        return _fixed(finite, breaks)
    if breaks is not None:
        raise InvalidInput("breaks are only used with method='fixed'")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, not {k!r}")
    k = int(k)
    distinct = np.unique(finite)
    if method == "quantiles":
        bins, note = _quantile_bins(finite, k), ""
    elif method == "equal_interval":
        bins, note = _equal_interval_bins(finite, min(k, distinct.size)), ""
    else:
        bins, note = _natural_breaks(finite, min(k, distinct.size))
    if bins.size < k:
        note = _join(
            f"{count_of(distinct.size, 'distinct value')} gave {bins.size} of {k} classes", note
        )
    return _result(method, bins, finite, k, note)


def _result(method: str, bins: FloatArray, finite: FloatArray, k: int, note: str) -> Classification:
    bins = np.asarray(bins, dtype=np.float64).copy()
    bins.flags.writeable = False
    return Classification(
        method=method,
        k=int(bins.size),
        breaks=bins,
        minimum=float(finite.min()),
        requested_k=k,
        integer_valued=bool(np.all(finite == np.round(finite))),
        note=note,
    )


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _as_float(values: np.ndarray) -> FloatArray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"values must be numeric: {exc}") from exc


def _finite_values(values: np.ndarray) -> FloatArray:
    array = _as_float(values).ravel()
    if np.isinf(array).any():
        raise InvalidInput("values must be finite or NaN, not infinite")
    finite = array[~np.isnan(array)]
    if finite.size == 0:
        raise InvalidInput("no values to classify (empty or all NaN)")
    return finite


def _fixed(finite: FloatArray, breaks: Sequence[float] | None) -> Classification:
    if breaks is None:
        raise InvalidInput("method='fixed' needs breaks")
    bins = _as_float(np.asarray(breaks)).ravel()
    if bins.size == 0 or not np.isfinite(bins).all() or np.any(np.diff(bins) <= 0):
        raise InvalidInput("fixed breaks must be finite and strictly increasing")
    note = ""
    top = finite.max()
    if bins[-1] < top:
        # UserDefined's rule: the maximum closes an extra top class so no value is unclassed.
        bins = np.append(bins, top)
        note = f"appended the data maximum {top:g} as a last break"
    return _result("fixed", bins, finite, int(np.asarray(breaks).size), note)


def _quantile_bins(finite: FloatArray, k: int) -> FloatArray:
    """mapclassify.classifiers.quantile, vectorised with the same floating-point operations."""
    width = 100.0 / k
    percents = np.arange(width, 100 + width, width)
    percents[-1] = min(percents[-1], 100.0)
    ordered = np.sort(finite)
    position = percents / 100.0 * (ordered.size - 1)
    low = position.astype(np.int64)
    high = np.minimum(low + 1, ordered.size - 1)
    weight_low = (low + 1) - position
    weight_high = position - low
    # scipy.stats.scoreatpercentile: exact indices take the value, others the weighted mean.
    mixed = (ordered[low] * weight_low + ordered[high] * weight_high) / (weight_low + weight_high)
    quantiles = np.where(position == low, ordered[low], mixed)
    return np.unique(quantiles)


def _equal_interval_bins(finite: FloatArray, k: int) -> FloatArray:
    """mapclassify.EqualInterval._set_bins (which raises when all values are equal; we give 1)."""
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        return np.array([high])
    width = (high - low) * 1.0 / k
    cuts = np.arange(low + width, high + width, width)[:k]
    cuts[-1] = high
    return cuts


def _natural_breaks(finite: FloatArray, k: int) -> tuple[FloatArray, str]:
    distinct, counts = np.unique(finite, return_counts=True)
    if distinct.size <= k:
        return distinct.astype(np.float64), ""
    centred = distinct - finite.mean()
    weight, total, squares = counts.astype(np.float64), centred * counts, centred**2 * counts
    uppers = distinct
    note = ""
    if distinct.size > MAX_DP_GROUPS:
        edges = np.linspace(0, distinct.size, MAX_DP_GROUPS + 1).astype(np.int64)[:-1]
        weight, total, squares = (np.add.reduceat(a, edges) for a in (weight, total, squares))
        uppers = distinct[np.r_[edges[1:] - 1, distinct.size - 1]]
        note = (
            f"natural breaks over {distinct.size} distinct values pooled into "
            f"{MAX_DP_GROUPS} groups; breaks fall on group edges"
        )
    starts = _fisher_jenks_starts(weight, total, squares, k)
    return np.append(uppers[starts[1:] - 1], uppers[-1]).astype(np.float64), note


def _fisher_jenks_starts(
    weight: FloatArray, total: FloatArray, squares: FloatArray, k: int
) -> NDArray[np.int64]:
    """Start index of each of ``k`` optimal classes over weighted sorted groups.

    ``cost(i, j)`` is the within-class sum of squares of groups ``i..j`` from prefix sums of the
    (centred) weights, sums and squares. Ties go to the smallest start (longest last class), as
    mapclassify's ``>=`` update does.
    """
    n = weight.size
    cum_w, cum_s, cum_q = (np.concatenate([[0.0], np.cumsum(a)]) for a in (weight, total, squares))
    ends = np.arange(n)
    best = cum_q[1:] - cum_s[1:] ** 2 / cum_w[1:]
    choice = np.zeros((k, n), dtype=np.int64)
    tolerance = 1e-12 * max(float(best[-1]), 1e-300)
    starts_col = np.arange(n)[:, None]
    for c in range(1, k):
        previous = np.concatenate([[np.inf], best[:-1]])  # cost of c classes ending before i
        new_best = np.full(n, np.inf)
        for block in range(0, n, _DP_BLOCK):
            j = ends[block : block + _DP_BLOCK][None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                w = cum_w[j + 1] - cum_w[starts_col]
                s = cum_s[j + 1] - cum_s[starts_col]
                cost = (cum_q[j + 1] - cum_q[starts_col]) - s * s / w
            candidate = previous[:, None] + cost
            candidate[(starts_col < c) | (starts_col > j)] = np.inf
            lowest = candidate.min(axis=0)
            pick = np.argmax(candidate <= lowest + tolerance, axis=0)
            choice[c, block : block + _DP_BLOCK] = pick
            new_best[block : block + _DP_BLOCK] = lowest
        best = new_best
    starts = np.zeros(k, dtype=np.int64)
    end = n - 1
    for c in range(k - 1, 0, -1):
        starts[c] = choice[c, end]
        end = starts[c] - 1
    return starts
