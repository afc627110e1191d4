"""Conditional randomisation engine for local statistics (esda's ``crand``), vectorised with numpy.

It serves every local statistic of :mod:`geo.hotspots` (Gi* on sparse weights and on the grid fast
path, local Moran's I) through one mechanism, and is kept apart from the statistics because it is
the one part whose cost and memory grow with ``permutations x features x cardinality``: draws,
chunking and the folded pseudo p-value live here, the closed-form z-scores stay in
:mod:`geo.hotspots`.

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

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from geo.errors import InvalidInput

__all__ = ["folded_p_sim", "padded_weights", "permuted_ids"]

FloatArray = NDArray[np.float64]

#: Simulated values held in memory at once by the permutation engine (x8 bytes, x2 arrays).
_CHUNK_ELEMENTS = 1 << 22
#: Above this cardinality, draws use a full random sort instead of Floyd's algorithm.
_FLOYD_MAX_K = 32


def padded_weights(off: scipy.sparse.csr_matrix) -> FloatArray:
    """Off-diagonal weights row by row, left-aligned in a ``[n, max_cardinality]`` array.

    Parameters
    ----------
    off : scipy.sparse.csr_matrix
        ``[n, n]`` weights without the self weights; its zeros are removed and its indices sorted
        in place, so pass a copy.

    Returns
    -------
    numpy.ndarray
        float64 ``[n, max_cardinality]``; row ``i`` holds feature ``i``'s neighbour weights in
        column order, then zeros.
    """
    off.eliminate_zeros()
    off.sort_indices()
    card = np.diff(off.indptr)
    wpad = np.zeros((card.size, int(card.max(initial=0))), dtype=np.float64)
    wpad[np.arange(wpad.shape[1])[None, :] < card[:, None]] = off.data
    return wpad


def folded_p_sim(
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

    Parameters
    ----------
    v : numpy.ndarray
        ``[n]`` values the neighbours are drawn from.
    wpad : numpy.ndarray
        ``[n, k]`` neighbour weights from :func:`padded_weights`.
    self_term, observed : numpy.ndarray
        ``[n]`` fixed part of each feature's lag and its observed statistic.
    permutations : int
        Number of draws (positive).
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same p-values.
    multiplier, scaling
        For local Moran's I: the simulated lag is multiplied by ``multiplier[i] * scaling``.

    Returns
    -------
    numpy.ndarray
        float64 ``[n]`` in ``[1/(permutations+1), 1]``.

    Raises
    ------
    InvalidInput
        A feature has more neighbours than there are other features.
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
