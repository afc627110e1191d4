"""Classification breaks against mapclassify, brute force and hand-worked examples."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import geo.classify as classify_module
from geo.classify import classify
from geo.errors import InvalidInput

MONTHS = ("2022-01", "2022-02", "2022-03")

# mapclassify runs its Fisher–Jenks in pure Python here; it says so on every call.
pytestmark = pytest.mark.filterwarnings("ignore:Numba not installed:UserWarning")


def _counts_by_area(shared: Path, layer: str) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Crimes per area: police.uk points (OSTN15 to BNG) joined to areas by geopandas."""
    pyproj.datadir.append_data_dir(str(shared / "proj"))
    frames = [pd.read_csv(shared / "crime" / "surrey" / f"{m}-surrey-street.csv") for m in MONTHS]
    crimes = pd.concat(frames).dropna(subset=["Longitude", "Latitude"])
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(crimes["Longitude"], crimes["Latitude"]), crs=4326
    ).to_crs(27700)
    areas = gpd.read_file(shared / "boundaries" / f"{layer}.gpkg")
    joined = gpd.sjoin(points, areas[["geometry"]], predicate="within")
    return areas, np.bincount(joined["index_right"].to_numpy(), minlength=len(areas))


@pytest.fixture(scope="module")
def ward_counts(shared_data: Path) -> np.ndarray:
    return _counts_by_area(shared_data, "surrey_wards_2019")[1].astype(np.float64)


@pytest.fixture(scope="module")
def lsoa_rates(shared_data: Path) -> np.ndarray:
    areas, counts = _counts_by_area(shared_data, "surrey_lsoa_2011")
    population = pd.read_csv(
        shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv"
    ).set_index("LSOA11CD")["population_mid2019"]
    return counts / population.loc[areas["LSOA11CD"]].to_numpy() * 1000.0


def _ssd(values: np.ndarray, breaks: np.ndarray) -> float:
    """Total within-class sum of squared deviations (what Fisher–Jenks minimises)."""
    index = np.searchsorted(breaks, values, side="left")
    return float(sum(((values[index == c] - values[index == c].mean()) ** 2).sum()
                     for c in np.unique(index)))  # fmt: skip


def test_real_ward_counts_look_like_counts(ward_counts: np.ndarray) -> None:
    assert ward_counts.size == 187
    assert ward_counts.sum() > 15000
    assert np.unique(ward_counts).size > 100


@pytest.mark.parametrize("k", range(2, 10))
def test_natural_breaks_equal_mapclassify_fisher_jenks_on_ward_counts(
    ward_counts: np.ndarray, k: int
) -> None:
    ours = classify(ward_counts, "natural_breaks", k)
    np.testing.assert_array_equal(ours.breaks, mapclassify.FisherJenks(ward_counts, k=k).bins)
    assert ours.k == k and ours.note == ""


def test_natural_breaks_equal_mapclassify_on_lsoa_rates(lsoa_rates: np.ndarray) -> None:
    ours = classify(lsoa_rates, "natural_breaks", 5)
    np.testing.assert_array_equal(ours.breaks, mapclassify.FisherJenks(lsoa_rates, k=5).bins)
    np.testing.assert_array_equal(
        ours.classes(lsoa_rates), mapclassify.FisherJenks(lsoa_rates, k=5).yb
    )


@pytest.mark.parametrize("k", range(2, 10))
def test_quantiles_equal_interval_user_defined_on_real_data(
    ward_counts: np.ndarray, lsoa_rates: np.ndarray, k: int
) -> None:
    for values in (ward_counts, lsoa_rates):
        np.testing.assert_array_equal(
            classify(values, "quantiles", k).breaks, mapclassify.Quantiles(values, k=k).bins
        )
        np.testing.assert_array_equal(
            classify(values, "equal_interval", k).breaks,
            mapclassify.EqualInterval(values, k=k).bins,
        )
    fixed = [50.0 * k, 100.0 * k, 150.0 * k]
    np.testing.assert_array_equal(
        classify(ward_counts, "fixed", breaks=fixed).breaks,
        mapclassify.UserDefined(ward_counts, fixed).bins,
    )


def test_classes_equal_mapclassify_yb(ward_counts: np.ndarray) -> None:
    for method, reference in (
        ("quantiles", mapclassify.Quantiles(ward_counts, k=5)),
        ("natural_breaks", mapclassify.FisherJenks(ward_counts, k=5)),
        ("equal_interval", mapclassify.EqualInterval(ward_counts, k=5)),
    ):
        classes = classify(ward_counts, method, 5).classes(ward_counts)  # type: ignore[arg-type]
        assert classes.dtype == np.int16
        np.testing.assert_array_equal(classes, reference.yb)


finite_floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(values=arrays(np.float64, st.integers(1, 80), elements=finite_floats), k=st.integers(1, 9))
def test_quantiles_match_mapclassify_for_any_data(values: np.ndarray, k: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify warns when tied quantiles collapse
        expected = mapclassify.Quantiles(values, k=k).bins
    ours = classify(values, "quantiles", k)
    np.testing.assert_array_equal(ours.breaks, expected)
    assert ours.k == expected.size and ours.requested_k == k
    assert (ours.note != "") == (ours.k < k)


@settings(max_examples=200, deadline=None)
@given(
    values=arrays(
        np.float64, st.integers(2, 80), elements=finite_floats.map(lambda v: round(v, 2))
    ),
    k=st.integers(1, 9),
)
def test_equal_interval_matches_mapclassify_for_any_data(values: np.ndarray, k: int) -> None:
    distinct = np.unique(values).size
    ours = classify(values, "equal_interval", k)
    if distinct == 1:  # mapclassify raises; we give one class
        assert ours.k == 1 and ours.breaks.tolist() == [values[0]]
        return
    k_used = min(k, distinct)  # documented: k is cut to the number of distinct values
    np.testing.assert_array_equal(ours.breaks, mapclassify.EqualInterval(values, k=k_used).bins)


def _brute_force_ssd(values: np.ndarray, k: int) -> float:
    """Smallest within-class SSD over every way to cut the sorted distinct values into k runs."""
    distinct = np.unique(values)
    best = np.inf
    for cuts in itertools.combinations(range(1, distinct.size), k - 1):
        breaks = np.append(distinct[np.array(cuts, dtype=int) - 1], distinct[-1])
        best = min(best, _ssd(values, breaks))
    return best


@settings(max_examples=150, deadline=None)
@given(
    values=arrays(np.int64, st.integers(3, 14), elements=st.integers(0, 60)).map(
        lambda a: a.astype(np.float64)
    ),
    k=st.integers(2, 4),
)
def test_natural_breaks_reach_the_brute_force_optimum(values: np.ndarray, k: int) -> None:
    if np.unique(values).size <= k:
        return
    ours = classify(values, "natural_breaks", k)
    assert ours.k == k
    assert _ssd(values, ours.breaks) == pytest.approx(_brute_force_ssd(values, k), abs=1e-9)


def test_natural_breaks_tie_goes_to_the_longest_last_class_like_mapclassify() -> None:
    # {1},{2,3} and {1,2},{3} cost the same; mapclassify (and we) keep the longer last class.
    for values, k in (([1, 2, 3], 2), ([1, 2, 3, 4, 5], 2), ([1, 2, 3, 4, 5], 3)):
        y = np.array(values, dtype=np.float64)
        np.testing.assert_array_equal(
            classify(y, "natural_breaks", k).breaks, mapclassify.FisherJenks(y, k=k).bins
        )


def test_natural_breaks_pools_huge_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    values = np.round(rng.lognormal(3.0, 1.0, 600), 1)
    exact = classify(values, "natural_breaks", 5)
    monkeypatch.setattr(classify_module, "MAX_DP_GROUPS", 60)
    pooled = classify(values, "natural_breaks", 5)
    assert "pooled" in pooled.note and pooled.k == 5
    assert pooled.breaks[-1] == values.max()
    assert np.all(np.diff(pooled.breaks) > 0) and np.isin(pooled.breaks, values).all()
    assert (
        _ssd(values, exact.breaks)
        <= _ssd(values, pooled.breaks)
        <= 1.10 * _ssd(values, exact.breaks)
    )


def test_fewer_distinct_values_than_k_reduces_k_and_says_so() -> None:
    values = np.array([3.0, 3.0, 7.0, 7.0, 9.0, np.nan])
    for method in ("natural_breaks", "equal_interval"):
        result = classify(values, method, 5)  # type: ignore[arg-type]
        assert result.k == 3 and result.requested_k == 5 and result.reduced
        assert "3 distinct values" in result.note
    np.testing.assert_array_equal(classify(values, "natural_breaks", 5).breaks, [3, 7, 9])
    single = classify(np.array([4.0, 4.0]), "equal_interval", 5)
    assert single.k == 1 and single.breaks.tolist() == [4.0]
    tied = classify(np.array([0.0] * 90 + list(range(1, 11))), "quantiles", 5)
    assert tied.k == 2 and tied.breaks.tolist() == [0.0, 10.0] and tied.reduced


def test_fixed_breaks_append_the_maximum_like_user_defined() -> None:
    values = np.array([1.0, 5.0, 12.0, 30.0, 41.0])
    result = classify(values, "fixed", breaks=[12, 40])
    assert result.breaks.tolist() == [12.0, 40.0, 41.0]
    assert result.requested_k == 2 and result.k == 3 and "maximum" in result.note
    assert classify(values, "fixed", breaks=[12, 50]).breaks.tolist() == [12.0, 50.0]


def test_labels_hand_worked_for_counts() -> None:
    values = np.array([0, 3, 12, 13, 25, 40], dtype=np.float64)
    result = classify(values, "fixed", breaks=[12, 40])
    assert result.labels() == ["0 – 12", "13 – 40"]
    assert result.classes(values).tolist() == [0, 0, 0, 1, 1, 1]
    # Fractional quantile breaks on counts: class (249.75, 499.5] holds 250..499.
    quartiles = classify(np.arange(1000, dtype=np.float64), "quantiles", 4)
    assert quartiles.breaks.tolist() == [249.75, 499.5, 749.25, 999.0]
    assert quartiles.labels() == ["0 – 249", "250 – 499", "500 – 749", "750 – 999"]
    assert classify(np.array([1.0, 2.0]), "natural_breaks", 2).labels() == ["1", "2"]


def test_labels_for_rates_share_boundaries() -> None:
    result = classify(np.array([0.25, 1.5, 2.75, 10.0]), "fixed", breaks=[1.5, 10.0])
    assert not result.integer_valued
    assert result.labels("{:.2f}") == ["0.25 – 1.50", "1.50 – 10.00"]
    assert result.labels() == ["0 – 2", "2 – 10"]


def test_classes_handles_nan_and_out_of_range() -> None:
    result = classify(np.array([1.0, 2.0, 3.0, 4.0]), "fixed", breaks=[2.0, 4.0])
    classes = result.classes(np.array([np.nan, -5.0, 2.0, 2.5, 99.0]))
    assert classes.tolist() == [-1, 0, 0, 1, 1]
    assert result.breaks.flags.writeable is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "jenks"}, "unknown"),
        ({"k": 0}, "k must"),
        ({"k": 21}, "k must"),
        ({"k": True}, "k must"),
        ({"k": 2.5}, "k must"),
        ({"breaks": [1.0]}, "only used"),
        ({"method": "fixed"}, "needs breaks"),
        ({"method": "fixed", "breaks": [3.0, 1.0]}, "strictly increasing"),
        ({"method": "fixed", "breaks": [1.0, np.inf]}, "strictly increasing"),
    ],
)
def test_bad_arguments_raise_invalid_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        classify(np.array([1.0, 2.0, 3.0]), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("values", [[], [np.nan, np.nan], [1.0, np.inf], ["a", "b"]])
def test_bad_values_raise_invalid_input(values: list[object]) -> None:
    with pytest.raises(InvalidInput):
        classify(np.array(values), "quantiles", 3)


def test_labels_skip_suppressed_small_counts_hand_worked() -> None:
    """With counts 1-4 hidden a class can only hold 0 or 5 and up: its label says so."""
    values = np.array([0, 0, 0, 5, 6, 7, 8, 9, 12, 30, 52], dtype=np.float64)
    result = classify(values, "quantiles", 5)
    assert result.breaks.tolist() == [0.0, 6.0, 8.0, 12.0, 52.0]
    assert result.labels() == ["0", "1 – 6", "7 – 8", "9 – 12", "13 – 52"]
    assert result.labels(hidden_below=5) == ["0", "5 – 6", "7 – 8", "9 – 12", "13 – 52"]
    # Breaks interpolated between 0 and 5: (0, 2] holds no visible number, (2, 4] neither.
    sparse = classify(np.array([0.0, 5.0, 9.0]), "quantiles", 5)
    assert sparse.breaks.tolist() == [2.0, 4.0, 5.8, 7.4, 9.0]
    assert sparse.labels(hidden_below=5) == [
        "0",
        "none shown (1 – 4 hidden)",
        "5",
        "6 – 7",
        "8 – 9",
    ]
    assert sparse.labels(hidden_below=0) == sparse.labels()  # nothing hidden: unchanged


def test_display_breaks_drop_float_noise_but_classes_stay_exact() -> None:
    values = np.arange(0.0, 22.0)  # equal interval of 0..21: width 4.2, third cut 12.6 + noise
    result = classify(values, "equal_interval", 5)
    exact = mapclassify.EqualInterval(values, k=5).bins
    np.testing.assert_array_equal(result.breaks, exact)  # exactly mapclassify's, noise and all
    assert exact[2] != 12.6  # the noise is really there
    assert result.display_breaks() == [4.2, 8.4, 12.6, 16.8, 21.0]


def test_a_single_distinct_value_note_is_singular() -> None:
    assert classify(np.zeros(5), "quantiles", 5).note == "1 distinct value gave 1 of 5 classes"


def test_continuous_labels_give_each_class_its_observed_range() -> None:
    """Rates: each label is the lowest and highest value in the class (mapclassify's class
    membership, numpy's min/max), so no two classes share an edge value."""
    rng = np.random.default_rng(7)
    values = np.round(rng.gamma(2.0, 3.0, 187), 4)
    values[:20] = 0.0
    c = classify(values, "quantiles", 5)
    yb = mapclassify.Quantiles(values, k=5).yb
    expected = []
    for i in range(c.k):
        held = values[yb == i]
        lo, hi = f"{held.min():,.2f}", f"{held.max():,.2f}"
        expected.append(lo if lo == hi else f"{lo} – {hi}")
    assert c.labels("{:,.2f}", values=values) == expected
    # Without the values: the shared boundaries, as before.
    assert c.labels("{:,.2f}")[1].startswith(f"{c.breaks[0]:,.2f}")
