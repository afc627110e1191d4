"""Local hot spot statistics: Getis–Ord Gi* with Benjamini–Hochberg FDR, and local Moran's I.

Gi* (the default hotspot method of the atlas, see INTERFACE.md) uses binary weights that include
the feature itself. Its z-score is the classical one (Getis & Ord 1992; Ord & Getis 1995)::

    z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))

with ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij^2``, ``xbar`` the mean and ``S`` the population
standard deviation of all ``n`` values; for binary weights this is exactly esda's
``G_Local(y, w, transform="B", star=True).Zs``. It is computed on centred values, so adding a
constant to every value leaves it unchanged. Where it is undefined (all values equal, or a feature
whose neighbourhood is every feature) it is defined as 0 (not significant).

Permutation inference (``p_sim``, with ``permutations > 0``) is esda's conditional randomisation
with its folded pseudo p-value, run by :mod:`geo.randomisation` (whose notes define it); features
whose statistic randomisation cannot move get ``p_sim = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from numpy.typing import NDArray
from scipy.special import ndtr

from geo.errors import InvalidInput
from geo.grid import CellGrid
from geo.randomisation import folded_p_sim, padded_weights, permuted_ids

__all__ = [
    "HotspotResult",
    "LocalMoranResult",
    "benjamini_hochberg",
    "gi_star",
    "gi_star_grid",
    "hotspot_bins",
    "local_moran",
    "permuted_ids",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class HotspotResult:
    """Per-feature Gi* results, in the feature order of the input.

    ``values`` are the analysed values, ``gi_z`` the z-scores, ``p_value`` two-sided normal
    p-values, ``q_value`` Benjamini–Hochberg adjusted p-values over all features,
    ``hotspot_bin`` the ±3/±2/±1/0 confidence bins, ``p_sim`` the folded permutation pseudo
    p-values (``None`` without permutations); ``method`` and ``params`` describe the run.
    """

    values: FloatArray
    gi_z: FloatArray
    p_value: FloatArray
    q_value: FloatArray
    hotspot_bin: NDArray[np.int8]
    p_sim: FloatArray | None
    method: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class LocalMoranResult:
    """Per-feature local Moran's I (Anselin 1995), in the feature order of the input.

    ``Is`` as esda's ``Moran_Local.Is``; ``z`` the analytical z-score ``(Is - EI) / sqrt(VI)``
    under total randomisation (esda's ``EI``/``VI``, Sokal et al. 1998 eqs. A3/A4*); ``p_value``
    two-sided normal; ``q_value`` Benjamini–Hochberg; ``quadrant`` 1 HH, 2 LH, 3 LL, 4 HL (value
    above the mean, spatial lag above zero, exactly as esda's ``q``); ``p_sim`` folded
    permutation pseudo p-values or ``None``.
    """

    values: FloatArray
    Is: FloatArray
    z: FloatArray
    p_value: FloatArray
    q_value: FloatArray
    quadrant: NDArray[np.int8]
    p_sim: FloatArray | None
    method: str
    params: dict[str, object] = field(default_factory=dict)


def gi_star(
    values: NDArray[np.floating] | NDArray[np.integer],
    weights: scipy.sparse.csr_matrix,
    permutations: int = 0,
    seed: int | None = None,
) -> HotspotResult:
    """Getis–Ord Gi* z-scores, p-values, FDR q-values and hotspot bins.

    Parameters
    ----------
    values : numpy.ndarray
        1-D values per feature (e.g. incident counts), finite, at least two.
    weights : scipy.sparse matrix
        ``[n, n]`` non-negative weights including the feature itself (non-zero diagonal);
        binary queen contiguity from :mod:`geo.weights` is the atlas default.
    permutations : int
        Conditional randomisation draws for ``p_sim`` (0: none).
    seed : int, optional
        Seed of the permutation draws; the same seed gives the same ``p_sim``.

    Returns
    -------
    HotspotResult

    Raises
    ------
    InvalidInput
        Bad values, weights of the wrong shape, negative or without the self weight, or a
        negative ``permutations``.
    """
    x = _check_values(values, 2)
    w = _check_weights(weights, x.size)
    self_w = w.diagonal()
    if np.any(self_w == 0):
        raise InvalidInput("Gi* weights must include each feature itself (non-zero diagonal)")
    xc, constant = _centred(x)
    w_sum = np.asarray(w.sum(axis=1)).ravel()
    w_sq = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    z = _gi_z(w @ xc, w_sum, w_sq, xc)
    p_sim = None
    if _check_permutations(permutations):
        off = w.tolil()
        off.setdiag(0)
        # G* = lag / sum(x): comparing lags is the same test for a positive total, and needs none
        wpad = padded_weights(off.tocsr())
        p_sim = (
            np.ones(x.size)
            if constant
            else folded_p_sim(x, wpad, self_w * x, w @ x, permutations, seed)
        )
    return _gi_result(x, z, p_sim, {"weights": "given", "permutations": permutations, "seed": seed})


def gi_star_grid(grid: CellGrid, permutations: int = 0, seed: int | None = None) -> HotspotResult:
    """Gi* of a grid's masked cell counts with binary queen weights including the cell itself.

    Same numbers as :func:`gi_star` with :func:`geo.weights.grid_queen`, computed with 3x3 box
    sums over the mask, so no weights matrix is built.

    Parameters
    ----------
    grid : CellGrid
        Counts and study-region mask (at least two masked cells).
    permutations, seed
        As for :func:`gi_star`.

    Returns
    -------
    HotspotResult
        Features are the masked cells in row-major order (``grid.feature_ij()``).

    Raises
    ------
    InvalidInput
        Fewer than two masked cells or a negative ``permutations``.
    """
    mask = grid.mask
    x_full = np.where(mask, grid.counts, 0).astype(np.float64)
    x = x_full[mask]
    if x.size < 2:
        raise InvalidInput("Gi* needs at least two cells in the mask")
    xc, constant = _centred(x)
    xc_full = np.zeros_like(x_full)
    xc_full[mask] = xc
    w_sum = _box3(mask.astype(np.float64))[mask]
    z = _gi_z(_box3(xc_full)[mask], w_sum, w_sum, xc)
    p_sim = None
    if _check_permutations(permutations):
        card = (w_sum - 1).astype(np.int64)
        wpad = (np.arange(int(card.max()))[None, :] < card[:, None]).astype(np.float64)
        lag = _box3(x_full)[mask]
        p_sim = np.ones(x.size) if constant else folded_p_sim(x, wpad, x, lag, permutations, seed)
    params: dict[str, object] = {
        "weights": "queen contiguity, binary, self included",
        "cell_m": grid.cell_m,
        "permutations": permutations,
        "seed": seed,
    }
    return _gi_result(x, z, p_sim, params)


def benjamini_hochberg(p: NDArray[np.floating]) -> FloatArray:
    """Benjamini–Hochberg (1995) adjusted p-values (``statsmodels`` ``fdr_bh``).

    ``q_(k) = min_{j >= k} p_(j) n / j`` over the sorted p-values, capped at 1; monotone in ``p``.

    Raises
    ------
    InvalidInput
        A p-value that is not a number in [0, 1].
    """
    pv = np.asarray(p, dtype=np.float64)
    flat = pv.ravel()
    if not np.all((flat >= 0) & (flat <= 1)):
        raise InvalidInput("p-values must be numbers in [0, 1]")
    n = flat.size
    order = np.argsort(flat, kind="stable")
    ranked = flat[order] / (np.arange(1, n + 1) / n)
    q_sorted = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    q = np.empty(n, dtype=np.float64)
    q[order] = q_sorted
    return q.reshape(pv.shape)


def hotspot_bins(z: NDArray[np.floating], q: NDArray[np.floating]) -> NDArray[np.int8]:
    """Confidence bins: ±3, ±2, ±1 for ``q`` < 0.01, 0.05, 0.10 with the sign of ``z``; else 0."""
    zz = np.asarray(z, dtype=np.float64)
    qq = np.asarray(q, dtype=np.float64)
    level = (qq < 0.10).astype(np.int8) + (qq < 0.05) + (qq < 0.01)
    return (np.sign(zz).astype(np.int8) * level).astype(np.int8)


def local_moran(
    values: NDArray[np.floating] | NDArray[np.integer],
    neighbours: scipy.sparse.csr_matrix,
    permutations: int = 0,
    seed: int | None = None,
) -> LocalMoranResult:
    """Local Moran's I with row-standardised weights, for rates or other intensive values.

    Parameters
    ----------
    values : numpy.ndarray
        1-D finite values per feature, at least three.
    neighbours : scipy.sparse matrix
        ``[n, n]`` non-negative contiguity without self weights (zero diagonal), e.g.
        ``polygon_queen`` or ``grid_queen(mask, include_self=False)``; row-standardised here.
        Features without neighbours get ``Is = 0``, ``z = 0``.
    permutations, seed
        As for :func:`gi_star`.

    Returns
    -------
    LocalMoranResult
        With all values equal, ``Is``/``z`` are 0 and ``p_sim`` 1 (esda gives NaN).

    Raises
    ------
    InvalidInput
        Bad values or weights, a non-zero diagonal, or a negative ``permutations``.
    """
    y = _check_values(values, 3)
    w = _check_weights(neighbours, y.size)
    if np.any(w.diagonal() != 0):
        raise InvalidInput("local Moran's I takes neighbours without self weights (zero diagonal)")
    row = np.asarray(w.sum(axis=1)).ravel()
    wr = scipy.sparse.diags(np.divide(1.0, row, out=np.zeros_like(row), where=row > 0)) @ w
    wr = scipy.sparse.csr_matrix(wr)
    yc, constant = _centred(y)
    n = y.size
    z = yc if constant else yc / y.std()
    lag = wr @ z
    den = float((z * z).sum())
    local_i = (n - 1) * z * lag / den if den > 0 else np.zeros(n)
    z_i = _moran_z(local_i, z, wr)
    p_sim = None
    if _check_permutations(permutations):
        p_sim = np.ones(n)
        if not constant:
            wpad, scaling = padded_weights(wr.copy()), (n - 1) / den
            p_sim = folded_p_sim(z, wpad, np.zeros(n), local_i, permutations, seed, z, scaling)
    quadrant = np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3)).astype(np.int8)
    p = 2.0 * ndtr(-np.abs(z_i))
    return LocalMoranResult(
        values=y,
        Is=local_i,
        z=z_i,
        p_value=p,
        q_value=benjamini_hochberg(p),
        quadrant=quadrant,
        p_sim=p_sim,
        method="local_moran",
        params={"weights": "row-standardised", "z": "total randomisation", "seed": seed},
    )


def _check_values(values: NDArray[np.floating] | NDArray[np.integer], n_min: int) -> FloatArray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < n_min:
        raise InvalidInput(f"values must be a 1-D array of at least {n_min} numbers")
    if not np.isfinite(x).all():
        raise InvalidInput("values must be finite")
    return x


def _check_weights(weights: scipy.sparse.csr_matrix, n: int) -> scipy.sparse.csr_matrix:
    if not scipy.sparse.issparse(weights):
        raise InvalidInput("weights must be a scipy.sparse matrix")
    w = scipy.sparse.csr_matrix(weights, dtype=np.float64)
    if w.shape != (n, n):
        raise InvalidInput(f"weights must be {n} x {n} to match the values; got {w.shape}")
    if not (np.isfinite(w.data).all() and (w.data >= 0).all()):
        raise InvalidInput("weights must be finite and non-negative")
    w.eliminate_zeros()
    w.sort_indices()
    return w


def _check_permutations(permutations: int) -> bool:
    if int(permutations) != permutations or permutations < 0:
        raise InvalidInput(f"permutations must be a non-negative integer; got {permutations!r}")
    return permutations > 0


def _centred(x: FloatArray) -> tuple[FloatArray, bool]:
    """Values minus their mean; exactly zero when all are equal (where rounding would not be)."""
    constant = bool(x.max() == x.min())
    if constant:
        return np.zeros_like(x), True
    xc = x - x.mean()
    return xc - xc.mean(), False


def _gi_z(lag_c: FloatArray, w_sum: FloatArray, w_sq: FloatArray, xc: FloatArray) -> FloatArray:
    """Gi* z from the lag of the centred values; 0 where the variance is 0."""
    n = xc.size
    std = float(np.sqrt(np.mean(xc * xc)))
    spread = np.maximum(n * w_sq - w_sum * w_sum, 0.0) / (n - 1)
    den = std * np.sqrt(spread)
    return np.divide(lag_c, den, out=np.zeros_like(lag_c), where=den > 0)


def _gi_result(
    x: FloatArray, z: FloatArray, p_sim: FloatArray | None, params: dict[str, object]
) -> HotspotResult:
    p = 2.0 * ndtr(-np.abs(z))
    q = benjamini_hochberg(p)
    params = {**params, "n": x.size, "p_value": "two-sided normal", "q_value": "fdr_bh"}
    return HotspotResult(
        values=x,
        gi_z=z,
        p_value=p,
        q_value=q,
        hotspot_bin=hotspot_bins(z, q),
        p_sim=p_sim,
        method="gi_star",
        params=params,
    )


def _box3(a: FloatArray) -> FloatArray:
    """Sum over each cell's 3x3 neighbourhood (cells beyond the array count as 0)."""
    ny, nx = a.shape
    padded = np.pad(a, 1)
    out = np.zeros_like(a)
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + ny, dx : dx + nx]
    return out


def _moran_z(local_i: FloatArray, z: FloatArray, wr: scipy.sparse.csr_matrix) -> FloatArray:
    """Analytical z of local Moran's I under total randomisation (esda ``EI``/``VI``)."""
    n = z.size
    n1 = n - 1
    m2 = float((z * z).sum()) / n
    if m2 == 0:
        return np.zeros(n)
    b2 = (float((z**4).sum()) / n) / m2**2
    wi = np.asarray(wr.sum(axis=1)).ravel()
    wi2 = np.asarray(wr.multiply(wr).sum(axis=1)).ravel()
    ei = -wi / n1
    vi = wi2 * (n - b2) / n1 + (wi**2 - wi2) * (2 * b2 - n) / (n1 * (n - 2)) - (-wi / n1) ** 2
    z_i: FloatArray = np.divide(
        local_i - ei, np.sqrt(np.maximum(vi, 0.0)), out=np.zeros(n), where=vi > 0
    )
    return z_i
