"""Day-of-week x hour profiles: hand-worked aoristic cases, pandas, a minute-by-minute reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InvalidInput
from geo.timeprofile import hour_dow_profile, month_only_caveat

MON, TUE, FRI, SAT, SUN = 0, 1, 4, 5, 6


def _times(*values: str, unit: str = "m") -> np.ndarray:
    return np.array(values, dtype=f"datetime64[{unit}]")


def test_friday_night_burglary_hand_worked() -> None:
    # 22:00 Friday 5 January 2024 to 06:00 Saturday: 8 hours, 1/8 of the weight in each hour.
    profile = hour_dow_profile(_times("2024-01-05T22:00"), _times("2024-01-06T06:00"))
    expected = np.zeros((7, 24))
    expected[FRI, 22:24] = 1 / 8  # 2/8 on Friday, 22-23 and 23-24
    expected[SAT, 0:6] = 1 / 8  # 6/8 over Saturday 00-06
    np.testing.assert_allclose(profile.table, expected, atol=1e-15)
    assert profile.table[FRI].sum() == pytest.approx(2 / 8)
    assert profile.table[SAT].sum() == pytest.approx(6 / 8)
    assert (profile.n_exact, profile.n_window, profile.n_untimed) == (0, 1, 0)
    assert profile.method == "aoristic"


def test_window_crossing_sunday_to_monday() -> None:
    # Sunday 7 January 2024 23:30 to Monday 01:00: 30 min on Sunday 23h, 60 min on Monday 00h.
    profile = hour_dow_profile(_times("2024-01-07T23:30"), _times("2024-01-08T01:00"))
    assert profile.table[SUN, 23] == pytest.approx(1 / 3)
    assert profile.table[MON, 0] == pytest.approx(2 / 3)
    assert profile.table.sum() == pytest.approx(1.0)
    assert np.count_nonzero(profile.table) == 2


def test_partial_hours_and_exact_times_together() -> None:
    start = _times("2024-01-02T10:15", "2024-01-02T10:40", "2024-01-02T10:40", "NaT")
    end = _times("2024-01-02T11:15", "NaT", "2024-01-02T10:40", "2024-01-02T11:00")
    profile = hour_dow_profile(start, end)
    # Window 10:15-11:15 puts 3/4 in 10h and 1/4 in 11h; two exact 10:40s; unknown start untimed.
    assert profile.table[TUE, 10] == pytest.approx(0.75 + 2)
    assert profile.table[TUE, 11] == pytest.approx(0.25)
    assert (profile.n_exact, profile.n_window, profile.n_untimed) == (2, 1, 1)


def test_windows_of_a_week_or_more_spread_evenly() -> None:
    start = _times("2024-01-03T13:20", "2024-01-03T13:20")
    end = _times("2024-01-10T13:20", "2024-02-20T02:00")
    profile = hour_dow_profile(start, end)
    np.testing.assert_allclose(profile.table, np.full((7, 24), 2 / 168), rtol=1e-12)


def test_exact_times_match_pandas_groupby() -> None:
    rng = np.random.default_rng(5)
    start = np.datetime64("2019-12-30T00:00:00", "s") + rng.integers(
        0, 5 * 365 * 86400, 50_000
    ).astype("timedelta64[s]")
    profile = hour_dow_profile(start.astype("datetime64[ns]"))
    stamps = pd.Series(pd.to_datetime(start))
    ref = (
        stamps.groupby([stamps.dt.day_of_week, stamps.dt.hour])
        .size()
        .reindex(pd.MultiIndex.from_product([range(7), range(24)]), fill_value=0)
    )
    np.testing.assert_array_equal(profile.table, ref.to_numpy().reshape(7, 24))
    assert profile.method == "exact"
    assert profile.n_exact == 50_000


def _minute_by_minute(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Reference: list every minute of every window and count minutes per (day, hour) bin."""
    table = np.zeros((7, 24))
    for s, e in zip(start, end, strict=True):
        minutes = pd.date_range(pd.Timestamp(s), pd.Timestamp(e), freq="min", inclusive="left")
        counts = pd.crosstab(minutes.day_of_week, minutes.hour)
        share = np.zeros((7, 24))
        share[np.ix_(counts.index, counts.columns)] = counts.to_numpy()
        table += share / len(minutes)
    return table


WINDOWS = st.lists(
    st.tuples(st.integers(0, 3 * 365 * 24 * 60), st.integers(1, 6 * 24 * 60)),
    min_size=1,
    max_size=8,
)


@given(WINDOWS)
@settings(max_examples=40, deadline=None)
def test_aoristic_matches_minute_by_minute_reference(windows: list[tuple[int, int]]) -> None:
    origin = np.datetime64("2022-01-01T00:00", "m")
    start = origin + np.array([w[0] for w in windows]).astype("timedelta64[m]")
    end = start + np.array([w[1] for w in windows]).astype("timedelta64[m]")
    profile = hour_dow_profile(start, end)
    np.testing.assert_allclose(profile.table, _minute_by_minute(start, end), atol=1e-12)


@given(
    st.lists(
        st.tuples(
            st.integers(-(10**9), 10**9),
            st.one_of(st.none(), st.integers(0, 20 * 86400)),
        ),
        min_size=0,
        max_size=200,
    ),
    st.lists(st.booleans(), max_size=50),
)
@settings(max_examples=150, deadline=None)
def test_totals_conserved_and_bins_non_negative(
    rows: list[tuple[int, int | None]], unknown_start: list[bool]
) -> None:
    epoch = np.datetime64("2000-01-01T00:00:00", "s")
    start = epoch + np.array([r[0] for r in rows], dtype=np.int64).astype("timedelta64[s]")
    end = np.array(
        [
            start[i] + np.timedelta64(r[1], "s") if r[1] is not None else "NaT"
            for i, r in enumerate(rows)
        ],
        dtype="datetime64[s]",
    )
    for i, missing in enumerate(unknown_start[: len(rows)]):
        if missing:
            start[i] = np.datetime64("NaT")
    profile = hour_dow_profile(start, end)
    assert (profile.table >= 0).all()
    assert profile.table.sum() == pytest.approx(profile.n_exact + profile.n_window, abs=1e-9)
    assert profile.n_exact + profile.n_window + profile.n_untimed == len(rows)
    assert profile.n_untimed == int(np.isnat(start).sum())


def test_many_windows_conserve_total_across_chunks() -> None:
    rng = np.random.default_rng(3)
    n = 20_000  # several internal chunks
    start = np.datetime64("2023-01-01T00:00:00", "s") + rng.integers(0, 10**8, n).astype(
        "timedelta64[s]"
    )
    end = start + rng.integers(1, 10 * 86400, n).astype("timedelta64[s]")
    profile = hour_dow_profile(start, end)
    assert profile.table.sum() == pytest.approx(n, rel=1e-12)
    assert profile.n_window == n


def test_month_only_data_is_untimed() -> None:
    months = np.array(["2023-01", "2023-02", "NaT"], dtype="datetime64[M]")
    profile = hour_dow_profile(months)
    assert profile.table.sum() == 0
    assert (profile.n_exact, profile.n_window, profile.n_untimed) == (0, 0, 3)
    assert profile.method == "none"
    dates = hour_dow_profile(np.array(["2023-01-04"], dtype="datetime64[D]"))
    assert dates.n_untimed == 1
    caveat = month_only_caveat()
    assert "month" in caveat
    assert caveat.endswith(".")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (_times("2024-01-02T10:00"), _times("2024-01-02T09:59")),  # ends before it starts
        (_times("2024-01-02T10:00"), _times("2024-01-02T11:00", "2024-01-02T12:00")),
        (np.array(["2024-01-02"]), None),  # strings, not datetime64
        (_times("2024-01-02T10:00"), np.array(["2024-01-03"], dtype="datetime64[D]")),
    ],
)
def test_rejects_bad_input(start: np.ndarray, end: np.ndarray | None) -> None:
    with pytest.raises(InvalidInput):
        hour_dow_profile(start, end)
