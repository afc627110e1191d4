"""Counting by area and month: checked against pandas group-by and police.uk file row counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geo.aggregate import (
    count_by_area,
    count_by_area_month,
    month_index,
    month_label,
    month_number,
    months_between,
)
from geo.errors import InvalidInput

MONTHS = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1990, 2040), st.integers(1, 12))


# --- months -------------------------------------------------------------------------------------


def test_months_between_crosses_a_year_end() -> None:
    assert months_between("2022-11", "2023-02") == ["2022-11", "2022-12", "2023-01", "2023-02"]
    assert months_between("2024-01", "2024-01") == ["2024-01"]


@pytest.mark.parametrize(
    ("first", "last"), [("2023-02", "2022-11"), ("2023-13", "2024-01"), ("2023-1", "2024-01")]
)
def test_months_between_rejects_bad_input(first: str, last: str) -> None:
    with pytest.raises(InvalidInput):
        months_between(first, last)


def test_month_number_round_trips() -> None:
    assert month_number("2022-01") == 2022 * 12
    assert month_label(month_number("1999-12")) == "1999-12"


@given(st.lists(MONTHS, max_size=60))
def test_month_index_matches_sorted_factorize(months: list[str]) -> None:
    idx, labels = month_index(np.array(months, dtype=np.str_))
    codes, uniques = pd.factorize(pd.Series(months, dtype=object), sort=True)
    assert labels == list(uniques)
    np.testing.assert_array_equal(idx, codes)
    assert idx.dtype == np.int32


def test_month_index_accepts_object_and_datetime64() -> None:
    months = ["2023-03", "2022-12", "2023-03", "2023-01"]
    idx, labels = month_index(np.array(months, dtype=object))
    assert labels == ["2022-12", "2023-01", "2023-03"]  # 2023-02 absent: not listed
    np.testing.assert_array_equal(idx, [2, 0, 2, 1])
    as_dates = np.array(["2023-03-31T23:59", "2022-12-01", "2023-03-01", "2023-01-15"], "M8[m]")
    idx_d, labels_d = month_index(as_dates)
    assert labels_d == labels
    np.testing.assert_array_equal(idx_d, idx)


@pytest.mark.parametrize(
    "bad",
    [["2023-13"], ["2023-00"], ["2023-1"], ["2023-01-01"], ["2023/01"], [None], ["abcd-ef"]],
)
def test_month_index_rejects_malformed(bad: list[object]) -> None:
    with pytest.raises(InvalidInput):
        month_index(np.array(bad, dtype=object))


def test_month_index_rejects_nat_and_empty_is_empty() -> None:
    with pytest.raises(InvalidInput):
        month_index(np.array(["2023-01", "NaT"], dtype="datetime64[M]"))
    idx, labels = month_index(np.array([], dtype=np.str_))
    assert idx.size == 0
    assert labels == []


def test_month_index_reproduces_police_uk_rows_per_file(shared_data: Path) -> None:
    # Published row counts of the 2023-01 … 2024-01 Surrey files (shared/data/SOURCES.md).
    expected = {
        "2023-01": 6942, "2023-02": 6858, "2023-03": 7222, "2023-04": 6957, "2023-05": 7458,
        "2023-06": 7873, "2023-07": 7635, "2023-08": 7274, "2023-09": 7824, "2023-10": 8002,
        "2023-11": 7296, "2023-12": 6875, "2024-01": 7143,
    }  # fmt: skip
    files = sorted((shared_data / "crime" / "surrey").glob("202[34]-*-surrey-street.csv"))
    months = pd.concat([pd.read_csv(f, usecols=["Month"])["Month"] for f in files])
    idx, labels = month_index(months.to_numpy(dtype=object))
    assert labels == list(expected)
    counts = np.bincount(idx, minlength=len(labels))
    assert dict(zip(labels, counts.tolist(), strict=True)) == expected
    assert counts.sum() == 95359


# --- counting -----------------------------------------------------------------------------------


@st.composite
def incidents(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    n_areas = draw(st.integers(0, 12))
    n_months = draw(st.integers(1, 6))
    n = draw(st.integers(0, 300))
    area = draw(hnp.arrays(np.int32, n, elements=st.integers(-1, n_areas - 1)))
    month = draw(hnp.arrays(np.int16, n, elements=st.integers(-1, n_months - 1)))
    mask = draw(hnp.arrays(np.bool_, n))
    return area, month, mask, n_areas, n_months


@given(incidents())
@settings(max_examples=200)
def test_count_by_area_matches_pandas(case: tuple[np.ndarray, ...]) -> None:
    area, _, mask, n_areas, _ = case
    got = count_by_area(area, n_areas)
    frame = pd.DataFrame({"area": area, "keep": mask})
    ref = frame[frame.area >= 0].groupby("area").size().reindex(range(n_areas), fill_value=0)
    np.testing.assert_array_equal(got, ref.to_numpy())
    assert got.dtype == np.int64
    assert got.sum() == np.count_nonzero(area >= 0)
    masked = count_by_area(area, n_areas, mask=mask)
    assert masked.sum() == np.count_nonzero((area >= 0) & mask)
    ref_m = frame[(frame.area >= 0) & frame.keep].groupby("area").size()
    np.testing.assert_array_equal(masked, ref_m.reindex(range(n_areas), fill_value=0).to_numpy())


@given(incidents())
@settings(max_examples=200)
def test_count_by_area_month_matches_pandas(case: tuple[np.ndarray, ...]) -> None:
    area, month, mask, n_areas, n_months = case
    frame = pd.DataFrame({"area": area, "month": month, "keep": mask})
    full = pd.MultiIndex.from_product([range(n_areas), range(n_months)])
    for use_mask in (False, True):
        got = count_by_area_month(area, month, n_areas, n_months, mask=mask if use_mask else None)
        rows = frame[(frame.area >= 0) & (frame.month >= 0) & (frame.keep | (not use_mask))]
        ref = rows.groupby(["area", "month"]).size().reindex(full, fill_value=0)
        np.testing.assert_array_equal(got, ref.to_numpy().reshape(n_areas, n_months))
        assert got.shape == (n_areas, n_months)
        assert got.sum() == len(rows)


def test_counting_spans_several_chunks() -> None:
    rng = np.random.default_rng(7)
    n = 600_000  # more than two internal chunks
    area = rng.integers(-1, 50, n)
    month = rng.integers(0, 13, n).astype(np.uint8)
    got = count_by_area_month(area, month, 50, 13)
    ref = pd.DataFrame({"a": area, "m": month}).query("a >= 0").groupby(["a", "m"]).size()
    np.testing.assert_array_equal(got.ravel(), ref.to_numpy())
    np.testing.assert_array_equal(count_by_area(area, 50), got.sum(axis=1))


@pytest.mark.parametrize(
    ("area", "month", "n_areas", "n_months"),
    [
        ([0, 3], [0, 0], 3, 1),  # area out of range
        ([0, -2], [0, 0], 3, 1),  # below -1
        ([0, 1], [0, 1], 3, 1),  # month out of range
        ([0.0, 1.0], [0, 0], 3, 1),  # not integers
        ([0, 1], [0], 3, 1),  # lengths differ
        ([0, 1], [0, 0], -1, 1),  # negative size
    ],
)
def test_count_by_area_month_rejects_bad_input(
    area: list[float], month: list[int], n_areas: int, n_months: int
) -> None:
    with pytest.raises(InvalidInput):
        count_by_area_month(np.array(area), np.array(month), n_areas, n_months)


def test_mask_must_be_boolean_and_aligned() -> None:
    with pytest.raises(InvalidInput):
        count_by_area(np.array([0, 1]), 2, mask=np.array([1, 0]))
    with pytest.raises(InvalidInput):
        count_by_area(np.array([0, 1]), 2, mask=np.array([True]))


def test_empty_tables() -> None:
    assert count_by_area(np.array([-1, -1]), 0).shape == (0,)
    assert count_by_area_month(np.array([], dtype=int), np.array([], dtype=int), 4, 0).shape == (
        4,
        0,
    )
