"""Small-number suppression: worked examples and the invariant that no small count is revealed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.disclosure import protect_total, suppression_mask, total_is_safe
from geo.errors import InvalidInput


def test_no_small_counts_nothing_hidden() -> None:
    c = np.array([0, 5, 12, 40])
    assert not suppression_mask(c).any()


def test_single_small_cell_gets_a_partner() -> None:
    # 3 is small; alone it could be recovered from the total, so the smallest other cell (7) hides too.
    c = np.array([3, 7, 12, 0, 40])
    assert suppression_mask(c).tolist() == [True, True, False, False, False]


def test_two_small_cells_summing_below_threshold_take_a_third() -> None:
    c = np.array([1, 2, 9, 30])
    # 1 + 2 = 3 < 5: add 9.
    assert suppression_mask(c).tolist() == [True, True, True, False]


def test_two_small_cells_summing_to_threshold_suffice() -> None:
    c = np.array([1, 4, 9, 30])
    assert suppression_mask(c).tolist() == [True, True, False, False]


def test_zeros_stay_visible_and_threshold_one_disables() -> None:
    c = np.array([0, 0, 2, 50])
    hide = suppression_mask(c)
    assert hide.tolist() == [False, False, True, True]
    assert not suppression_mask(c, threshold=1).any()


def test_negative_counts_rejected() -> None:
    with pytest.raises(InvalidInput):
        suppression_mask(np.array([1, -1]))


def _feasible_values(c: np.ndarray, hide: np.ndarray, cell: int, threshold: int) -> set[int]:
    """Values the hidden ``cell`` could take given the visible cells and the total."""
    hidden_total = int(c[hide].sum())
    others = int(hide.sum()) - 1
    if others == 0:
        return {hidden_total}
    # Every other hidden cell can be anything >= 0, so the cell ranges over 0..hidden_total;
    # an attacker who also knows hidden cells are either 0 or >= 1 learns nothing sharper.
    return set(range(hidden_total + 1))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=25),
    st.integers(min_value=2, max_value=8),
)
def test_suppression_never_reveals_a_small_count(values: list[int], threshold: int) -> None:
    c = np.array(values)
    hide = suppression_mask(c, threshold)
    small = (c >= 1) & (c < threshold)
    assert hide[small].all(), "every small count is hidden"
    if total_is_safe(c, hide, threshold):
        for cell in np.flatnonzero(small):
            assert len(_feasible_values(c, hide, int(cell), threshold)) > 1
    else:
        # Too few cells to protect a published total: the caller must hide the total.
        assert int(hide.sum()) < 2 or int(c[hide].sum()) < threshold


@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=25),
    st.lists(st.booleans(), min_size=25, max_size=25),
)
def test_protect_total_only_adds_and_makes_the_total_safe(
    values: list[int], hidden: list[bool]
) -> None:
    """Given any starting hidden set, the result keeps it, and the total is then safe to
    publish, unless every visible non-zero cell is already hidden too (nothing more to hide)."""
    counts = np.array(values)
    start = np.array(hidden[: len(values)]) & (counts > 0)
    out = protect_total(counts, start, 5)
    assert (out | ~start).all()  # a superset
    exhausted = not (~out & (counts > 0)).any()
    assert total_is_safe(counts, out, 5) or exhausted
    # Minimal: without the last cell it added, the total would not have been safe.
    added = np.flatnonzero(out & ~start)
    if added.size:
        smaller = out.copy()
        smaller[added[np.argmax(counts[added])]] = False
        assert not total_is_safe(counts, smaller, 5)
