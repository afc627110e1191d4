"""Empirical Bayes smoothed rates for maps of small areas.

Raw rates in areas with few residents swing wildly on a handful of incidents; Empirical Bayes
(Marshall 1991, *Mapping disease and mortality rates using empirical Bayes estimators*, Applied
Statistics 40(2):283-294) shrinks each area's rate towards a reference mean, more strongly the
smaller its population. The formulae follow PySAL's ``esda.smoothing`` (esda 2.x,
``esda/smoothing.py``: ``Empirical_Bayes``, ``Spatial_Rate``, ``Spatial_Empirical_Bayes``) so that
results match it; the two deliberate differences are documented on each function.

Rates are per person (events / residents); multiply by 1,000 for a rate per 1,000.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse

from geo.errors import InvalidInput
from geo.rates import as_counts

__all__ = ["eb_global", "eb_local"]

FloatArray = npt.NDArray[np.float64]


def _inputs(counts: npt.ArrayLike, population: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate one-dimensional counts and populations; return them as float64."""
    e = as_counts(counts).astype(np.float64)
    b = np.asarray(population)
    if b.dtype == np.bool_ or not np.issubdtype(b.dtype, np.number):
        raise InvalidInput(f"population must be numeric, got {b.dtype}")
    b = b.astype(np.float64)
    if e.ndim != 1 or e.shape != b.shape:
        raise InvalidInput(f"counts {e.shape} and population {b.shape} must be 1-D, same length")
    if np.isinf(b).any():
        raise InvalidInput("population must be finite")
    if not (b > 0).any():
        raise InvalidInput("no area has a positive population")
    return e, b


def _shrink(rate: FloatArray, prior_mean: FloatArray, prior_var: FloatArray, b: FloatArray) -> Any:
    """Posterior mean ``w * rate + (1 - w) * prior_mean`` with ``w = v / (v + m / b)``.

    Where ``v = m = 0`` (no events anywhere in the reference) ``w`` is 0/0; every rate there is 0,
    so the smoothed rate is the prior mean, 0.
    """
    denominator = prior_var + prior_mean / b
    weight = np.divide(prior_var, denominator, out=np.zeros_like(rate), where=denominator > 0)
    return weight * rate + (1.0 - weight) * prior_mean


def eb_global(counts: npt.ArrayLike, population: npt.ArrayLike) -> FloatArray:
    """Global (aspatial) Empirical Bayes smoothed rate per person (Marshall 1991).

    With ``m = sum(e) / sum(b)`` and ``v = sum(b * (e/b - m)**2) / sum(b) - m / mean(b)``, each rate
    becomes ``w * e/b + (1 - w) * m`` where ``w = v / (v + m / b)``, as
    ``esda.smoothing.Empirical_Bayes(e, b).r``.

    Differences from esda: (1) a negative moment estimate ``v`` (less spread between areas than
    Poisson noise alone explains) is set to 0, as Marshall (1991) prescribes and as esda's own
    ``Spatial_Empirical_Bayes`` does; esda's global estimator leaves it negative, which gives
    weights outside [0, 1]. Every area then takes the global mean. (2) Areas whose population is
    not positive (or NaN) get NaN and are left out of ``m`` and ``v``; esda would propagate
    division by zero to every area.

    Parameters
    ----------
    counts : array_like, shape (n,)
        Events per area (non-negative).
    population : array_like, shape (n,)
        Residents per area.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        Smoothed rate per person.

    Raises
    ------
    InvalidInput
        On negative or non-finite counts, mismatched or non-1-D shapes, infinite populations, or
        no area with a positive population.
    """
    e, b = _inputs(counts, population)
    valid = b > 0
    ev, bv = e[valid], b[valid]
    mean_rate = ev.sum() / bv.sum()
    rate = ev / bv
    variance = (bv * (rate - mean_rate) ** 2).sum() / bv.sum() - mean_rate / bv.mean()
    variance = max(float(variance), 0.0)
    out = np.full(e.shape, np.nan)
    out[valid] = _shrink(rate, np.full_like(rate, mean_rate), np.full_like(rate, variance), bv)
    return out


def _neighbour_pairs(
    neighbours: scipy.sparse.csr_matrix | scipy.sparse.csr_array, n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row and column of every neighbour link, plus each area paired with itself."""
    if not scipy.sparse.issparse(neighbours) or neighbours.shape != (n, n):
        raise InvalidInput(f"neighbours must be a sparse ({n}, {n}) matrix")
    links = scipy.sparse.coo_matrix(neighbours)
    links.sum_duplicates()
    links.eliminate_zeros()
    if links.nnz and not np.all(links.data == 1):
        raise InvalidInput("neighbours must be binary (every stored weight equal to 1)")
    if np.any(links.row == links.col):
        raise InvalidInput("neighbours must not include the area itself (it is added here)")
    own = np.arange(n, dtype=np.int64)
    rows = np.concatenate([links.row.astype(np.int64), own])
    cols = np.concatenate([links.col.astype(np.int64), own])
    return rows, cols


def eb_local(
    counts: npt.ArrayLike,
    population: npt.ArrayLike,
    neighbours: scipy.sparse.csr_matrix | scipy.sparse.csr_array,
) -> FloatArray:
    """Local (spatial) Empirical Bayes smoothed rate per person.

    Each area is shrunk towards the rate of its neighbourhood ``N(i)`` = its neighbours plus
    itself, as ``esda.smoothing.Spatial_Empirical_Bayes(e, b, w).r``:
    ``m_i = sum_N e / sum_N b`` (esda's ``Spatial_Rate``),
    ``v_i = sum_N b_j (e_j/b_j - m_i)**2 / sum_N b - m_i / (sum_N b / |N(i)|)``, floored at 0
    (as esda), and ``r_i = m_i + (e_i/b_i - m_i) * v_i / (v_i + m_i / b_i)``.

    Areas whose population is not positive (or NaN) get NaN and are left out of every
    neighbourhood (including its size ``|N(i)|``); with all populations positive the result is
    esda's. Where a neighbourhood has no events (``m_i = v_i = 0``) the result is 0, where esda
    gives NaN.

    Parameters
    ----------
    counts : array_like, shape (n,)
        Events per area (non-negative).
    population : array_like, shape (n,)
        Residents per area.
    neighbours : scipy.sparse.csr_matrix or csr_array, shape (n, n)
        Binary contiguity (e.g. queen), ``neighbours[i, j] = 1`` when ``j`` neighbours ``i``; the
        diagonal must be empty (the function adds each area to its own neighbourhood).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        Smoothed rate per person.

    Raises
    ------
    InvalidInput
        As :func:`eb_global`, and when ``neighbours`` is not a binary sparse ``(n, n)`` matrix
        with an empty diagonal.
    """
    e, b = _inputs(counts, population)
    n = e.size
    rows, cols = _neighbour_pairs(neighbours, n)
    valid = b > 0
    keep = valid[rows] & valid[cols]
    rows, cols = rows[keep], cols[keep]
    rate = np.divide(e, b, out=np.full(n, np.nan), where=valid)
    e_sum = np.bincount(rows, weights=e[cols], minlength=n)
    b_sum = np.bincount(rows, weights=b[cols], minlength=n)
    size = np.bincount(rows, minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_rate = e_sum / b_sum
        spread = np.bincount(
            rows, weights=b[cols] * (rate[cols] - mean_rate[rows]) ** 2, minlength=n
        )
        variance = np.maximum(spread / b_sum - mean_rate / (b_sum / size), 0.0)
    out = np.full(n, np.nan)
    out[valid] = _shrink(rate[valid], mean_rate[valid], variance[valid], b[valid])
    return out
