"""geo.emerging: Mann–Kendall against brute force, hand examples and scipy; emerging categories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from geo.emerging import CATEGORIES, emerging_hotspots, mann_kendall
from geo.errors import InvalidInput
from geo.hotspots import gi_star
from geo.weights import grid_queen

# ---------------------------------------------------------------- Mann–Kendall


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(
        np.int64, st.tuples(st.integers(1, 6), st.integers(2, 25)), elements=st.integers(0, 6)
    )
)
def test_s_equals_brute_force_pairwise_sign_sum(series: np.ndarray) -> None:
    s, z, p = mann_kendall(series)
    n = series.shape[1]
    brute = [
        sum(int(np.sign(row[j] - row[i])) for i in range(n) for j in range(i + 1, n))
        for row in series.tolist()
    ]
    np.testing.assert_array_equal(s, brute)
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.sign(z) == np.sign(s) * (np.abs(s) > 1))  # continuity: |S| = 1 gives z = 0


def test_tie_corrected_variance_hand_example() -> None:
    """x = 1 2 2 3 3 3 4, n = 7.

    S: 21 pairs, all non-decreasing, 1 + 3 = 4 of them tied -> S = 17.
    Var(S) = (7*6*19 - [2*1*9] - [3*2*11]) / 18 = (798 - 18 - 66) / 18 = 714 / 18.
    z = (17 - 1) / sqrt(714 / 18); without the continuity correction 17 / sqrt(714 / 18).
    """
    x = np.array([[1, 2, 2, 3, 3, 3, 4]])
    s, z, p = mann_kendall(x)
    assert s[0] == 17
    assert z[0] == pytest.approx(16 / np.sqrt(714 / 18), rel=1e-12)
    assert p[0] == pytest.approx(2 * stats.norm.sf(16 / np.sqrt(714 / 18)), rel=1e-12)
    _, z_raw, _ = mann_kendall(x, continuity=False)
    assert z_raw[0] == pytest.approx(17 / np.sqrt(714 / 18), rel=1e-12)


def test_small_hand_examples() -> None:
    # 2 1 3: signs (1-2) -1, (3-2) +1, (3-1) +1 -> S = 1; Var = 3*2*11/18; continuity makes z = 0
    s, z, p = mann_kendall(np.array([[2.0, 1.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_array_equal(s, [1, 0])
    np.testing.assert_array_equal(z, [0.0, 0.0])
    np.testing.assert_array_equal(p, [1.0, 1.0])
    _, z_raw, _ = mann_kendall(np.array([[2.0, 1.0, 3.0]]), continuity=False)
    assert z_raw[0] == pytest.approx(1 / np.sqrt(66 / 18))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(3, 40), elements=st.integers(0, 8).map(float)),
)
def test_without_continuity_p_equals_scipy_kendalltau_asymptotic(series: np.ndarray) -> None:
    """What is true: with x = range(n) (no ties in time) scipy's asymptotic Kendall tau test uses
    Var = (n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18 and z = S / sqrt(Var), so it equals
    Mann–Kendall *without* the continuity correction, ties in the series or not. With the
    correction our p is never smaller."""
    _, _, p = mann_kendall(series[None, :], continuity=False)
    if np.ptp(series) == 0:
        assert p[0] == 1.0
        return
    ref = stats.kendalltau(np.arange(series.size), series, method="asymptotic")
    assert p[0] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)
    _, _, p_cc = mann_kendall(series[None, :])
    assert p_cc[0] >= p[0]


def test_without_ties_tau_is_s_over_pairs() -> None:
    series = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0, 5.5, 3.5, 8.0, 9.5])
    s, _, p = mann_kendall(series[None, :], continuity=False)
    ref = stats.kendalltau(np.arange(12), series, method="asymptotic")
    assert ref.statistic == pytest.approx(s[0] / (12 * 11 / 2))
    assert p[0] == pytest.approx(ref.pvalue, rel=1e-12)


def test_mann_kendall_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput):
        mann_kendall(np.arange(5.0))
    with pytest.raises(InvalidInput):
        mann_kendall(np.array([[1.0, np.nan, 2.0]]))
    with pytest.raises(InvalidInput):
        mann_kendall(np.array([[1.0]]))


# ---------------------------------------------------------------- emerging hot spots

_MASK = np.ones((12, 12), dtype=bool)
_TARGET = 3 * 12 + 3  # centre of the 3x3 block at rows 2-4, columns 2-4
H, B, C = 40.0, 10.0, 0.0  # hot block, background, cold block


def _cube(target_by_month: list[float]) -> np.ndarray:
    """[144 cells, months]: background 10, a fixed hot anchor block (40) far from the target, and
    the target's 3x3 block set month by month. The anchor keeps the variance from being set by the
    target alone (with a single block its Gi* z would not depend on its value)."""
    months = len(target_by_month)
    g = np.full((months, 12, 12), B)
    g[:, 8:11, 8:11] = H
    g[:, 2:5, 2:5] = np.asarray(target_by_month)[:, None, None]
    return g.reshape(months, -1).T


_SCENARIOS: dict[str, tuple[str, list[float]]] = {
    "new": ("new hot spot", [B] * 11 + [H]),
    "consecutive": ("consecutive hot spot", [B] * 9 + [H] * 3),
    "intensifying": ("intensifying hot spot", list(np.linspace(30, 85, 12))),
    "persistent": ("persistent hot spot", [H] * 12),
    "diminishing": ("diminishing hot spot", list(np.linspace(85, 30, 12))),
    "sporadic": ("sporadic hot spot", [B, B, H, B, B, H, B, B, H, B, B, H]),
    "oscillating": ("oscillating hot spot", [B, C, B, B, C, B, B, H, B, B, B, H]),
    "historical": ("historical hot spot", [H] * 11 + [B]),
    "none": ("no pattern detected", [B] * 12),
    # 11 of 12 months hot is >= 90 %; one low month then a flat run is no significant trend
    "persistent-11-of-12": ("persistent hot spot", [B] + [H] * 11),
    # 10 of 12 is < 90 %: an uninterrupted final run with nothing significant before it
    "consecutive-10-of-12": ("consecutive hot spot", [B, B] + [H] * 10),
    # a cold month before a first, final, hot month: oscillating takes precedence over new
    "cold-then-new": ("oscillating hot spot", [B, B, C] + [B] * 8 + [H]),
}


@pytest.mark.parametrize("scenario", list(_SCENARIOS))
def test_each_category_on_a_12_month_series(scenario: str) -> None:
    expected, series = _SCENARIOS[scenario]
    counts = _cube(series)
    res = emerging_hotspots(counts, _MASK)
    assert res.category[_TARGET] == expected
    # cold mirror: 100 - counts flips every Gi* z (adding a constant changes nothing)
    mirror = emerging_hotspots(100.0 - counts, _MASK)
    assert mirror.category[_TARGET] == expected.replace("hot spot", "cold spot")
    np.testing.assert_allclose(mirror.gi_z, -res.gi_z, atol=1e-9)
    np.testing.assert_array_equal(mirror.slices_cold, res.slices_hot)


def test_trend_and_slice_counts_of_the_scenarios() -> None:
    up = emerging_hotspots(_cube(_SCENARIOS["intensifying"][1]), _MASK)
    down = emerging_hotspots(_cube(_SCENARIOS["diminishing"][1]), _MASK)
    flat = emerging_hotspots(_cube(_SCENARIOS["persistent"][1]), _MASK)
    # the target's monthly Gi* z rises strictly, so S = 66 (all 12*11/2 pairs increase)
    assert np.all(np.diff(up.gi_z[_TARGET]) > 0)
    assert up.trend_z[_TARGET] == pytest.approx(65 / np.sqrt(12 * 11 * 29 / 18))
    assert up.trend_p[_TARGET] < 0.05 and down.trend_z[_TARGET] < 0
    assert (flat.trend_z[_TARGET], flat.trend_p[_TARGET]) == (0.0, 1.0)
    assert (up.slices_hot[_TARGET], up.slices_cold[_TARGET]) == (12, 0)
    osc = emerging_hotspots(_cube(_SCENARIOS["oscillating"][1]), _MASK)
    assert (osc.slices_hot[_TARGET], osc.slices_cold[_TARGET]) == (2, 2)


def test_final_cold_after_a_hot_history_is_oscillating_cold_not_historical_hot() -> None:
    res = emerging_hotspots(_cube([H] * 11 + [C]), _MASK)
    assert res.category[_TARGET] == "oscillating cold spot"


def test_monthly_gi_is_gi_star_per_slice_and_weights_equal_mask() -> None:
    counts = _cube(_SCENARIOS["sporadic"][1])
    by_mask = emerging_hotspots(counts, _MASK)
    by_weights = emerging_hotspots(counts, grid_queen(_MASK))
    np.testing.assert_array_equal(by_mask.category, by_weights.category)
    for month in (0, 2, 11):
        np.testing.assert_allclose(
            by_mask.gi_z[:, month], gi_star(counts[:, month], grid_queen(_MASK)).gi_z
        )
    assert set(np.unique(by_mask.category)) <= set(CATEGORIES)
    assert len(CATEGORIES) == 17


def test_emerging_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput, match="12 months"):
        emerging_hotspots(np.zeros((144, 11)), _MASK)
    with pytest.raises(InvalidInput):
        emerging_hotspots(np.zeros((143, 12)), _MASK)
    with pytest.raises(InvalidInput):
        emerging_hotspots(np.zeros((144, 12)), _MASK, alpha=0.0)
    with pytest.raises(InvalidInput):
        emerging_hotspots(np.zeros((144, 12)), np.ones((12, 12)))
    with pytest.raises(InvalidInput):
        emerging_hotspots(np.zeros((144, 12)), grid_queen(_MASK, include_self=False))
