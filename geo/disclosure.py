"""Small-number suppression for published tables.

Public and partner views must not reveal counts from 1 to ``threshold - 1`` (default 1-4).
Primary suppression hides those cells. Because tables publish their total, one hidden cell could be
recovered by subtraction, so secondary suppression also hides the smallest other non-zero cells
until the hidden cells are at least two and together hold at least ``threshold`` incidents: the
published numbers then admit several values for every hidden cell. Zeros are not disclosive and
stay visible. Values derived from a hidden count (rates and their intervals) must be hidden with it.
"""

from __future__ import annotations

import numpy as np

from geo.errors import InvalidInput


def suppression_mask(counts: np.ndarray, threshold: int = 5) -> np.ndarray:
    """Cells to hide in a one-dimensional table of non-negative integer counts.

    Parameters
    ----------
    counts : numpy.ndarray
        Counts per area (integers >= 0).
    threshold : int
        Counts from 1 to ``threshold - 1`` are small. ``threshold <= 1`` disables suppression.

    Returns
    -------
    numpy.ndarray
        Boolean mask, True where the count must not be published.

    Raises
    ------
    InvalidInput
        For negative counts.
    """
    c = np.asarray(counts, dtype=np.int64)
    if c.size and c.min() < 0:
        raise InvalidInput("counts must be non-negative")
    hide = (c >= 1) & (c < threshold)
    if threshold <= 1 or not hide.any():
        return hide
    return protect_total(c, hide, threshold)


def protect_total(counts: np.ndarray, hide: np.ndarray, threshold: int = 5) -> np.ndarray:
    """``hide`` extended (secondary suppression) so the table's total may be published too.

    While the hidden cells are a single cell or hold fewer than ``threshold`` incidents
    together, the smallest visible non-zero cell is hidden as well. A table with nothing hidden
    is returned as it is. ``hide`` itself is not changed.
    """
    c = np.asarray(counts, dtype=np.int64)
    out = np.array(hide, dtype=bool)
    if threshold <= 1 or not out.any():
        return out
    candidates = np.flatnonzero(~out & (c > 0))
    order = candidates[np.argsort(c[candidates], kind="stable")]
    hidden_total = int(c[out].sum())
    hidden_n = int(out.sum())
    # Secondary suppression: a handful of cells at most, so a short loop over cells is fine here.
    for cell in order:
        if hidden_n >= 2 and hidden_total >= threshold:
            break
        out[cell] = True
        hidden_total += int(c[cell])
        hidden_n += 1
    return out


def total_is_safe(counts: np.ndarray, hide: np.ndarray, threshold: int = 5) -> bool:
    """Whether the table total may be published alongside the visible cells.

    It may, unless the hidden cells are a single cell or hold fewer than ``threshold`` incidents
    together (which happens only when there were too few cells to hide).
    """
    c = np.asarray(counts, dtype=np.int64)
    hidden = c[hide]
    if hidden.size == 0:
        return True
    return hidden.size >= 2 and int(hidden.sum()) >= threshold
