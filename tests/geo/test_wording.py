"""Counted nouns and display rounding, hand-worked."""

from __future__ import annotations

import math

import pytest

from geo.wording import count_of, tidy


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 areas"), (1, "1 area"), (2, "2 areas"), (1500, "1,500 areas")]
)
def test_count_of(n: int, text: str) -> None:
    assert count_of(n, "area") == text


def test_count_of_irregular_plural() -> None:
    assert count_of(1, "category", "categories") == "1 category"
    assert count_of(3, "category", "categories") == "3 categories"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (52.400000000000006, 52.4),
        (115.00000000000006, 115.0),
        (5.217979999999999, 5.21798),
        (60.00000000000001, 60.0),
        (0.1 + 0.2, 0.3),
        (1234567.891, 1234567.891),
        (0.0, 0.0),
        (-3.0000000000000004, -3.0),
    ],
)
def test_tidy_drops_float_noise_only(value: float, shown: float) -> None:
    assert tidy(value) == shown


def test_tidy_leaves_non_finite_alone() -> None:
    assert math.isnan(tidy(math.nan)) and tidy(math.inf) == math.inf
