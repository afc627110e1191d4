"""Empirical Bayes smoothing: matches esda on Surrey LSOAs and esda's published St Louis example."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import shapely
from esda.smoothing import Empirical_Bayes, Spatial_Empirical_Bayes
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.errors import InvalidInput
from geo.smoothing import eb_global, eb_local


@pytest.fixture(scope="module")
def surrey(shared_data: Path) -> tuple[np.ndarray, np.ndarray, libpysal.weights.W]:
    """Crimes per LSOA in police.uk 2022 Surrey data, mid-2019 population, queen contiguity."""
    lsoa = gpd.read_file(shared_data / "boundaries" / "surrey_lsoa_2011.gpkg")
    population = pd.read_csv(
        shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv"
    ).set_index("LSOA11CD")["population_mid2019"]
    files = sorted((shared_data / "crime" / "surrey").glob("2022-*-surrey-street.csv"))
    codes = pd.concat([pd.read_csv(f, usecols=["LSOA code"])["LSOA code"] for f in files])
    counts = codes.value_counts().reindex(lsoa["LSOA11CD"], fill_value=0).to_numpy(float)
    pop = population.reindex(lsoa["LSOA11CD"]).to_numpy(float)
    # The generalised polygons' shared vertices differ by floating-point noise (< 1 cm), so
    # queen contiguity needs them snapped to a 1 cm grid first.
    snapped = lsoa.set_geometry(shapely.set_precision(lsoa.geometry.to_numpy(), 0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.Queen.from_dataframe(snapped, use_index=False)
    w.id_order = list(range(len(lsoa)))
    return counts, pop, w


def test_surrey_data_is_what_we_think(surrey: tuple[np.ndarray, np.ndarray, object]) -> None:
    counts, pop, w = surrey
    assert pop.sum() == 1_196_236  # ONS mid-2019 Surrey total (SOURCES.md)
    assert counts.sum() > 70_000
    assert not w.islands  # type: ignore[attr-defined]


def test_eb_global_matches_esda_on_surrey(surrey: tuple[np.ndarray, np.ndarray, object]) -> None:
    counts, pop, _ = surrey
    ref = Empirical_Bayes(counts, pop).r.ravel()
    np.testing.assert_allclose(eb_global(counts, pop), ref, rtol=1e-9, atol=0)


def test_eb_local_matches_esda_on_surrey(surrey: tuple[np.ndarray, np.ndarray, object]) -> None:
    counts, pop, w = surrey
    ref = Spatial_Empirical_Bayes(counts, pop, w).r.ravel()
    got = eb_local(counts, pop, w.sparse)  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=0)


def test_matches_esda_on_random_poisson_counts(
    surrey: tuple[np.ndarray, np.ndarray, object],
) -> None:
    _, pop, w = surrey
    # Over-dispersed counts (risk varies between areas), as real crime counts are.
    risk = np.random.default_rng(12).gamma(4.0, 0.001, pop.size)
    counts = np.random.default_rng(11).poisson(pop * risk).astype(float)
    np.testing.assert_allclose(
        eb_global(counts, pop), Empirical_Bayes(counts, pop).r.ravel(), rtol=1e-9
    )
    np.testing.assert_allclose(
        eb_local(counts, pop, w.sparse),  # type: ignore[attr-defined]
        Spatial_Empirical_Bayes(counts, pop, w).r.ravel(),
        rtol=1e-9,
    )


def test_homogeneous_risk_floors_the_global_variance(
    surrey: tuple[np.ndarray, np.ndarray, object],
) -> None:
    # One risk everywhere: the moment estimate of the between-area variance comes out negative.
    # We floor it at 0 (Marshall 1991), so every area gets the global mean; esda's global
    # estimator keeps the negative value, its weights are below 0 and every area lands on the
    # wrong side of the mean (a low raw rate is smoothed to above the mean).
    # The spatial estimator floors in esda too, so there we still agree exactly.
    _, pop, w = surrey
    counts = np.random.default_rng(11).poisson(pop * 0.004).astype(float)
    mean = counts.sum() / pop.sum()
    np.testing.assert_allclose(eb_global(counts, pop), mean, rtol=1e-12)
    esda_r = Empirical_Bayes(counts, pop).r.ravel()
    raw = counts / pop
    differs = raw != mean
    np.testing.assert_array_equal(np.sign(esda_r - mean)[differs], -np.sign(raw - mean)[differs])
    np.testing.assert_allclose(
        eb_local(counts, pop, w.sparse),  # type: ignore[attr-defined]
        Spatial_Empirical_Bayes(counts, pop, w).r.ravel(),
        rtol=1e-9,
    )


def _stl() -> tuple[np.ndarray, np.ndarray, scipy.sparse.csr_matrix]:
    example = libpysal.examples.get_path("stl_hom.csv")
    table = libpysal.io.open(example, "r")
    counts, pop = np.array(table[:, 10]).ravel(), np.array(table[:, 13]).ravel()
    w = libpysal.io.open(libpysal.examples.get_path("stl.gal"), "r").read()
    assert w.id_order == [str(i) for i in range(1, len(counts) + 1)]  # rows in file order
    return counts.astype(float), pop.astype(float), w.sparse


def test_published_st_louis_homicide_example() -> None:
    # Values printed in esda's docstrings (Empirical_Bayes, Spatial_Empirical_Bayes) for the
    # St Louis homicide data shipped with libpysal.
    counts, pop, neighbours = _stl()
    np.testing.assert_allclose(
        eb_global(counts, pop)[:5],
        [2.36718950e-05, 4.54539167e-05, 4.78114019e-05, 2.76907146e-05, 6.58989323e-05],
        rtol=1e-8,
    )
    np.testing.assert_allclose(
        eb_local(counts, pop, neighbours)[:5],
        [4.01485749e-05, 3.62437513e-05, 4.93034844e-05, 5.09387329e-05, 3.72735210e-05],
        rtol=1e-8,
    )


def test_negative_variance_is_floored_to_the_mean() -> None:
    # Identical rates: between-area variance 0 minus Poisson noise < 0, so every area takes the
    # global mean 10 / 1000 (esda's global estimator would divide by zero here).
    got = eb_global(np.array([10, 20, 5]), np.array([1000, 2000, 500]))
    np.testing.assert_allclose(got, 0.01)


def test_no_events_anywhere_gives_zero() -> None:
    neighbours = scipy.sparse.csr_matrix(np.array([[0, 1], [1, 0]]))
    np.testing.assert_array_equal(eb_global(np.zeros(2), np.array([10.0, 20.0])), [0.0, 0.0])
    np.testing.assert_array_equal(eb_local(np.zeros(2), np.array([10.0, 20.0]), neighbours), 0.0)


def test_zero_population_areas_are_nan_and_left_out() -> None:
    counts = np.array([3.0, 40.0, 7.0, 0.0, 15.0])
    pop = np.array([500.0, 2000.0, 900.0, 0.0, 1500.0])
    got = eb_global(counts, pop)
    assert np.isnan(got[3])
    keep = pop > 0
    np.testing.assert_allclose(got[keep], Empirical_Bayes(counts[keep], pop[keep]).r.ravel())
    # A chain 0-1-2-3-4: area 3 (no residents) drops out of its neighbours' neighbourhoods.
    chain = scipy.sparse.diags([1.0, 1.0], [-1, 1], shape=(5, 5), format="csr")
    local = eb_local(counts, pop, chain)
    assert np.isnan(local[3])
    w = libpysal.weights.W({0: [1], 1: [0, 2], 2: [1], 4: []}, silence_warnings=True)
    w.id_order = [0, 1, 2, 4]
    ref = Spatial_Empirical_Bayes(counts[keep], pop[keep], w).r.ravel()
    np.testing.assert_allclose(local[keep], ref, rtol=1e-12)


@given(st.lists(st.tuples(st.integers(0, 200), st.floats(50.0, 20_000.0)), min_size=2, max_size=40))
@settings(max_examples=100, deadline=None)
def test_global_eb_shrinks_towards_the_mean(rows: list[tuple[int, float]]) -> None:
    counts = np.array([r[0] for r in rows], dtype=float)
    pop = np.array([r[1] for r in rows])
    mean = counts.sum() / pop.sum()
    raw = counts / pop
    got = eb_global(counts, pop)
    low, high = np.minimum(raw, mean), np.maximum(raw, mean)
    tol = 1e-12 * max(high.max(), 1e-300)
    assert ((got >= low - tol) & (got <= high + tol)).all()


@pytest.mark.parametrize(
    "matrix",
    [
        np.array([[1, 1], [1, 0]]),  # self included
        np.array([[0, 0.5], [0.5, 0]]),  # not binary
        np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]),  # wrong size
    ],
)
def test_eb_local_rejects_bad_neighbours(matrix: np.ndarray) -> None:
    with pytest.raises(InvalidInput):
        eb_local(np.array([1.0, 2.0]), np.array([10.0, 10.0]), scipy.sparse.csr_matrix(matrix))
    with pytest.raises(InvalidInput):
        eb_local(np.array([1.0, 2.0]), np.array([10.0, 10.0]), matrix)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "pop"),
    [([1.0, -1.0], [1.0, 1.0]), ([1.0], [1.0, 2.0]), ([1.0, 2.0], [0.0, 0.0]), ([1.0], [np.inf])],
)
def test_eb_rejects_bad_input(counts: list[float], pop: list[float]) -> None:
    with pytest.raises(InvalidInput):
        eb_global(np.array(counts), np.array(pop))
