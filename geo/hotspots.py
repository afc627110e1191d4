"""Local hot spot statistics: Getis–Ord Gi* with Benjamini–Hochberg FDR, and local Moran's I.

Gi* (the default hotspot method of the atlas, see INTERFACE.md) uses binary weights that include
the feature itself. Its z-score is the classical one (Getis & Ord 1992; Ord & Getis 1995)::

    z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))

with ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij^2``, ``xbar`` the mean and ``S`` the population
standard deviation of all ``n`` values; for binary weights this is exactly esda's
``G_Local(y, w, transform="B", star=True).Zs``. It is computed on centred values, so adding a
constant to every value leaves it unchanged. Where it is undefined (all values equal, or a feature
whose neighbourhood is every feature) it is defined as 0 (not significant).

Permutation inference is esda's conditional randomisation: for each permutation, a feature keeps
its own value and draws its neighbours' values without replacement from the *other* features;
one set of ``permutations x max_cardinality`` draws is shared by all features, as in
``esda.crand``. The pseudo p-value is esda's folded (``alternative="directed"``) one::

    larger = #(simulated >= observed); larger = min(larger, permutations - larger)
    p_sim = (larger + 1) / (permutations + 1)

so it lies in ``[1/(permutations+1), ~0.5]`` and is uniform on that range under the null. Where
randomisation cannot move the statistic (all values equal, or a feature without neighbours),
``p_sim`` is defined as 1 (esda gives NaN or 1/(permutations+1) there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from numpy.typing import NDArray
from scipy.special import ndtr

from geo.errors import InvalidInput
from geo.grid import CellGrid

FloatArray = NDArray[np.float64]

#: Simulated values held in memory at once by the permutation engine (x8 bytes, x2 arrays).
_CHUNK_ELEMENTS = 1 << 22
#: Above this cardinality, draws use a full random sort instead of Floyd's algorithm.
_FLOYD_MAX_K = 32


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
        wpad = _padded(off.tocsr())
        p_sim = (
            np.ones(x.size) if constant else _p_sim(x, wpad, self_w * x, w @ x, permutations, seed)
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
        p_sim = np.ones(x.size) if constant else _p_sim(x, wpad, x, lag, permutations, seed)
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
            wpad, scaling = _padded(wr.copy()), (n - 1) / den
            p_sim = _p_sim(z, wpad, np.zeros(n), local_i, permutations, seed, z, scaling)
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


def _padded(off: scipy.sparse.csr_matrix) -> FloatArray:
    """Off-diagonal weights row by row, left-aligned in a ``[n, max_cardinality]`` array."""
    off.eliminate_zeros()
    off.sort_indices()
    card = np.diff(off.indptr)
    wpad = np.zeros((card.size, int(card.max(initial=0))), dtype=np.float64)
    wpad[np.arange(wpad.shape[1])[None, :] < card[:, None]] = off.data
    return wpad


def _p_sim(
    v: FloatArray,
    wpad: FloatArray,
    self_term: FloatArray,
    observed: FloatArray,
    permutations: int,
    seed: int | None,
    multiplier: FloatArray | None = None,
    scaling: float = 1.0,
) -> FloatArray:
    """Folded pseudo p-values from seeded conditional randomisation (see the module notes).

    A feature without neighbours has nothing to randomise (every draw equals the observed value),
    so its p_sim is 1 rather than the 1/(permutations+1) that folding the ties would give.
    """
    rng = np.random.default_rng(seed)
    ids = permuted_ids(v.size - 1, wpad.shape[1], permutations, rng)
    larger = _count_larger(v, wpad, self_term, observed, ids, multiplier, scaling)
    folded = np.minimum(larger, permutations - larger)
    p_sim = (folded + 1.0) / (permutations + 1.0)
    p_sim[~wpad.any(axis=1)] = 1.0
    return p_sim


def permuted_ids(
    n_pool: int, k: int, permutations: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """``[permutations, k]`` draws without replacement from ``range(n_pool)``, random order.

    Every prefix of a row is a uniformly random subset, so features with fewer than ``k``
    neighbours use the first columns (esda's ``vec_permutations`` contract).

    Raises
    ------
    InvalidInput
        ``k > n_pool``.
    """
    if k > n_pool:
        raise InvalidInput(f"cannot draw {k} distinct neighbours from {n_pool} other features")
    if k <= _FLOYD_MAX_K:
        out = np.empty((permutations, k), dtype=np.int64)
        # Floyd's algorithm, vectorised over permutations: uniform k-subsets in O(k^2) per row.
        for c, top in enumerate(range(n_pool - k, n_pool)):
            t = rng.integers(0, top + 1, size=permutations)
            seen = (out[:, :c] == t[:, None]).any(axis=1)
            out[:, c] = np.where(seen, top, t)
        order = np.argsort(rng.random((permutations, k)), axis=1)
        return np.take_along_axis(out, order, axis=1)
    rows = max(1, _CHUNK_ELEMENTS // n_pool)
    parts = [
        np.argsort(rng.random((min(rows, permutations - s), n_pool)), axis=1)[:, :k]
        for s in range(0, permutations, rows)
    ]
    return np.concatenate(parts).astype(np.int64)


def _count_larger(
    v: FloatArray,
    wpad: FloatArray,
    self_term: FloatArray,
    observed: FloatArray,
    ids: NDArray[np.int64],
    multiplier: FloatArray | None = None,
    scaling: float = 1.0,
) -> NDArray[np.int64]:
    """Per feature, how many simulated statistics are >= the observed one.

    Simulated statistic of feature ``i`` in permutation ``p``: ``lag = self_term[i] + sum_c
    wpad[i, c] * v_without_i[ids[p, c]]``, times ``multiplier[i] * scaling`` when given (local
    Moran). ``v_without_i[t]`` is ``v[t + (t >= i)]``: the draw skips feature ``i`` itself.
    Features are processed in chunks to bound memory.
    """
    n = v.size
    perms, k = ids.shape
    larger = np.empty(n, dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // max(perms * k, 1))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        drawn = ids[None, :, :] + (ids[None, :, :] >= rows[:, None, None])
        lag = np.einsum("rpk,rk->rp", v[drawn], wpad[rows]) + self_term[rows, None]
        stat = lag if multiplier is None else multiplier[rows, None] * lag * scaling
        larger[rows] = np.count_nonzero(stat >= observed[rows, None], axis=1)
    return larger


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
