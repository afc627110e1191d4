"""geo.hotspots: Gi* and local Moran's I against esda/libpysal/statsmodels, on real Surrey data."""

from __future__ import annotations

import warnings
from pathlib import Path

import esda
import esda.crand
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pyproj
import pytest
import scipy.sparse
import shapely
from esda.getisord import _g_local_star_crand
from esda.moran import _moran_local_crand
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from statsmodels.stats.multitest import multipletests

from geo.errors import InvalidInput
from geo.grid import CellGrid, grid_counts
from geo.hotspots import (
    benjamini_hochberg,
    gi_star,
    gi_star_grid,
    hotspot_bins,
    local_moran,
    permuted_ids,
)
from geo.weights import grid_queen, polygon_queen

# ---------------------------------------------------------------- real data fixtures


@pytest.fixture(scope="module")
def surrey_crime(shared_data: Path) -> pd.DataFrame:
    """Located police.uk Surrey records (2022-01..2024-01) with OSTN15 easting/northing."""
    frames = [
        pd.read_csv(p, usecols=["Longitude", "Latitude", "LSOA code"])
        for p in sorted((shared_data / "crime" / "surrey").glob("*.csv"))
    ]
    df = pd.concat(frames, ignore_index=True).dropna(subset=["Longitude", "Latitude"])
    pyproj.datadir.append_data_dir(str(shared_data / "proj"))
    to_bng = pyproj.Transformer.from_crs(4326, 27700, always_xy=True)
    df["easting"], df["northing"] = to_bng.transform(df["Longitude"].values, df["Latitude"].values)
    # the preferred operation is the OSTN15 grid shift, not a Helmert fallback
    best = pyproj.transformer.TransformerGroup(4326, 27700, always_xy=True).transformers[0]
    assert "grids=uk_os_OSTN15_NTv2_OSGBtoETRS.tif" in best.definition
    assert best.transform(-0.5, 51.3) == to_bng.transform(-0.5, 51.3)
    return df


@pytest.fixture(scope="module")
def surrey_outline(shared_data: Path) -> shapely.Geometry:
    districts = gpd.read_file(shared_data / "boundaries" / "surrey_districts.gpkg")
    return shapely.union_all(np.asarray(districts.geometry.array))


def _esda_gi_grid(grid: CellGrid) -> np.ndarray:
    """esda G_Local Zs with lat2W(rook=False) restricted to the mask and self weight 1."""
    ny, nx = grid.mask.shape
    ids = np.flatnonzero(grid.mask.ravel()).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.lat2W(ny, nx, rook=False)
        w = libpysal.weights.w_subset(w, ids, silence_warnings=True)
        w = libpysal.weights.util.fill_diagonal(w, 1.0)
        ref = esda.G_Local(
            grid.feature_counts().astype(float), w, transform="B", star=True, permutations=0
        )
    return np.asarray(ref.Zs)


# ---------------------------------------------------------------- Gi* against esda


@pytest.mark.parametrize("cell_m", [1000.0, 500.0])
def test_gi_star_grid_matches_esda_on_surrey_crime(
    surrey_crime: pd.DataFrame, surrey_outline: shapely.Geometry, cell_m: float
) -> None:
    grid = grid_counts(
        surrey_crime["easting"].values,
        surrey_crime["northing"].values,
        cell_m,
        region=surrey_outline,
    )
    assert grid.n_features > (1500 if cell_m == 1000 else 6000)
    ours = gi_star_grid(grid)
    np.testing.assert_allclose(ours.gi_z, _esda_gi_grid(grid), rtol=0, atol=1e-6)
    # the sparse path over grid_queen gives the same numbers
    sparse = gi_star(grid.feature_counts(), grid_queen(grid.mask))
    np.testing.assert_allclose(sparse.gi_z, ours.gi_z, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.p_value, 2 * stats.norm.sf(np.abs(ours.gi_z)), rtol=1e-12)
    np.testing.assert_allclose(
        ours.q_value, multipletests(ours.p_value, method="fdr_bh")[1], rtol=1e-12, atol=0
    )
    assert (ours.hotspot_bin == 3).any()  # Surrey's town centres are hot spots at q < 0.01


def test_gi_star_matches_esda_on_2019_ward_counts(
    shared_data: Path, surrey_crime: pd.DataFrame
) -> None:
    wards = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(surrey_crime["easting"], surrey_crime["northing"]),
        crs=27700,
    )
    joined = gpd.sjoin(points, wards[["geometry"]], predicate="within")
    counts = np.bincount(joined["index_right"].to_numpy(), minlength=len(wards))
    assert counts.sum() > 100_000

    w_ours = polygon_queen(np.asarray(wards.geometry.array)) + scipy.sparse.identity(len(wards))
    ours = gi_star(counts, scipy.sparse.csr_matrix(w_ours))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.Queen.from_dataframe(wards, use_index=False, silence_warnings=True)
        w = libpysal.weights.util.fill_diagonal(w, 1.0)
        ref = esda.G_Local(counts.astype(float), w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(ours.gi_z, ref.Zs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.q_value, multipletests(ours.p_value, method="fdr_bh")[1])


def test_worked_example_single_high_cell_in_5x5() -> None:
    """All cells 0 except the centre, 10. n = 25, mean 0.4, S^2 = 100/25 - 0.4^2 = 3.84.

    z_i = (L_i - 0.4 W_i) / (S sqrt((25 W_i - W_i^2) / 24)):
    * centre and its 8 neighbours: W = 9, L = 10 -> 6.4 / sqrt(3.84 * 6) = 6.4 / 4.8 = 4/3
    * corner cells: W = 4, L = 0 -> -1.6 / sqrt(3.84 * 84 / 24) = -1.6 / sqrt(13.44)
    * other edge cells: W = 6, L = 0 -> -2.4 / sqrt(3.84 * 114 / 24) = -2.4 / sqrt(18.24)
    """
    counts = np.zeros((5, 5), dtype=np.int64)
    counts[2, 2] = 10
    res = gi_star_grid(CellGrid(100.0, 0, 0, counts, np.ones((5, 5), dtype=bool)))
    z = res.gi_z.reshape(5, 5)
    expected = np.full((5, 5), -2.4 / np.sqrt(18.24))
    expected[[0, 0, 4, 4], [0, 4, 0, 4]] = -1.6 / np.sqrt(13.44)
    expected[1:4, 1:4] = 4.0 / 3.0
    np.testing.assert_allclose(z, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.p_value[12], 2 * stats.norm.sf(4.0 / 3.0))
    assert res.hotspot_bin.dtype == np.int8
    assert res.method == "gi_star"


# ---------------------------------------------------------------- invariants

_masks = hnp.arrays(np.bool_, st.tuples(st.integers(2, 8), st.integers(2, 8)))


@settings(max_examples=50, deadline=None)
@given(mask=_masks, value=st.floats(-1e6, 1e6, allow_nan=False))
def test_constant_field_has_zero_gi(mask: np.ndarray, value: float) -> None:
    if mask.sum() < 2:
        return
    res = gi_star(np.full(int(mask.sum()), value), grid_queen(mask), permutations=9, seed=1)
    np.testing.assert_array_equal(res.gi_z, 0.0)
    np.testing.assert_array_equal(res.p_value, 1.0)
    np.testing.assert_array_equal(res.hotspot_bin, 0)
    assert res.p_sim is not None
    np.testing.assert_array_equal(res.p_sim, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    mask=_masks,
    shift=st.floats(-1e3, 1e3, allow_nan=False),
    scale=st.floats(0.01, 100),
)
def test_z_is_unchanged_by_adding_a_constant_or_scaling(
    data: st.DataObject, mask: np.ndarray, shift: float, scale: float
) -> None:
    n = int(mask.sum())
    if n < 2:
        return
    counts = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, 50)))
    w = grid_queen(mask)
    base = gi_star(counts, w).gi_z
    np.testing.assert_allclose(gi_star(counts + shift, w).gi_z, base, rtol=0, atol=1e-8)
    np.testing.assert_allclose(gi_star(counts * scale, w).gi_z, base, rtol=0, atol=1e-8)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), mask=_masks)
def test_grid_fast_path_equals_sparse_path(data: st.DataObject, mask: np.ndarray) -> None:
    if mask.sum() < 2:
        return
    counts = data.draw(hnp.arrays(np.int64, mask.shape, elements=st.integers(0, 30)))
    counts[~mask] = 0
    fast = gi_star_grid(CellGrid(50.0, 3, -2, counts, mask), permutations=19, seed=5)
    slow = gi_star(counts[mask], grid_queen(mask), permutations=19, seed=5)
    np.testing.assert_allclose(fast.gi_z, slow.gi_z, rtol=0, atol=1e-12)
    assert fast.p_sim is not None and slow.p_sim is not None
    np.testing.assert_array_equal(fast.p_sim, slow.p_sim)


# ---------------------------------------------------------------- permutation inference


def _esda_p_sim(
    z: np.ndarray,
    w: scipy.sparse.csr_matrix,
    observed: np.ndarray,
    ids: np.ndarray,
    scaling: float,
    stat_func: object,
) -> np.ndarray:
    """esda's own conditional-randomisation kernel (esda.crand.compute_chunk) on given draws."""
    self_weights = w.diagonal().astype(float)
    off = w.tolil()
    off.setdiag(0)
    off = scipy.sparse.csr_matrix(off)
    off.eliminate_zeros()
    cardinalities = np.diff(off.indptr)
    p_sim, _ = esda.crand.compute_chunk(
        0,
        z,
        z,
        observed,
        cardinalities,
        self_weights,
        off.data.astype(float),
        ids,
        scaling,
        False,
        stat_func,
        0.0,
        "directed",
    )
    return np.asarray(p_sim, dtype=float)


def test_gi_p_sim_equals_esda_conditional_randomisation_on_the_same_draws() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((18, 22)) > 0.15
    counts = rng.poisson(2.0, mask.shape) * mask
    counts[5:8, 5:8] += 12
    w = grid_queen(mask)
    y = counts[mask].astype(float)
    res = gi_star(y, w, permutations=99, seed=42)
    # gi_star's draws: default_rng(seed), then permuted_ids(n - 1, max_cardinality, permutations)
    ids = permuted_ids(y.size - 1, 8, 99, np.random.default_rng(42))
    observed = (w @ y) / y.sum()
    ref = _esda_p_sim(y, w, observed, ids, y.sum(), _g_local_star_crand)
    assert res.p_sim is not None
    np.testing.assert_allclose(res.p_sim, ref, rtol=1e-6)  # esda stores p_sim as float32


def test_p_sim_is_seeded_and_reproducible() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, (15, 15))
    grid = CellGrid(100.0, 0, 0, counts, np.ones((15, 15), dtype=bool))
    a = gi_star_grid(grid, permutations=99, seed=7).p_sim
    b = gi_star_grid(grid, permutations=99, seed=7).p_sim
    c = gi_star_grid(grid, permutations=99, seed=8).p_sim
    assert a is not None and b is not None and c is not None
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert gi_star_grid(grid).p_sim is None


def test_strong_hotspot_gets_the_smallest_pseudo_p() -> None:
    rng = np.random.default_rng(11)
    counts = rng.poisson(2.0, (20, 20))
    counts[9:12, 9:12] = 40  # a 3x3 cluster: the centre's whole neighbourhood is extreme
    grid = CellGrid(100.0, 0, 0, counts, np.ones((20, 20), dtype=bool))
    res = gi_star_grid(grid, permutations=999, seed=1)
    assert res.p_sim is not None
    p = res.p_sim.reshape(20, 20)
    assert p[10, 10] == pytest.approx(1 / 1000)
    assert (p[9:12, 9:12] <= 0.01).all()
    assert res.hotspot_bin.reshape(20, 20)[10, 10] == 3


def test_feature_without_neighbours_has_p_sim_1() -> None:
    mask = np.zeros((5, 5), dtype=bool)
    mask[:2, :2] = True
    mask[4, 4] = True  # isolated cell
    counts = np.zeros((5, 5), dtype=np.int64)
    counts[mask] = [1, 2, 3, 4, 50]
    res = gi_star_grid(CellGrid(100.0, 0, 0, counts, mask), permutations=99, seed=0)
    assert res.p_sim is not None
    assert res.p_sim[-1] == 1.0
    assert (res.p_sim[:-1] < 1.0).all()


def test_null_field_gives_uniform_folded_pseudo_p() -> None:
    """Independent continuous values: folded p_sim is uniform on (0, 0.5]."""
    rng = np.random.default_rng(2024)
    y = rng.normal(size=45 * 45)
    res = gi_star(y, grid_queen(np.ones((45, 45), dtype=bool)), permutations=199, seed=3)
    assert res.p_sim is not None
    p = res.p_sim
    assert p.min() >= 1 / 200 and p.max() <= 0.5 + 1e-12
    assert abs(p.mean() - 0.25) < 0.02
    assert 0.07 < np.mean(p <= 0.05) < 0.13
    ks = stats.kstest(2 * p, "uniform")
    assert ks.statistic < 0.05


def test_permuted_ids_are_distinct_and_uniform() -> None:
    rng = np.random.default_rng(0)
    ids = permuted_ids(20, 8, 20_000, rng)
    assert ids.shape == (20_000, 8) and ids.min() >= 0 and ids.max() < 20
    assert all(len(set(row)) == 8 for row in ids[:500].tolist())
    # every column, hence every prefix, is uniform over the pool
    for col in (0, 3, 7):
        freq = np.bincount(ids[:, col], minlength=20) / 20_000
        assert np.abs(freq - 0.05).max() < 0.01
    big = permuted_ids(100, 60, 200, rng)  # the sort-based branch
    assert all(len(set(row)) == 60 for row in big.tolist())
    with pytest.raises(InvalidInput):
        permuted_ids(5, 6, 10, rng)


# ---------------------------------------------------------------- FDR and bins


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(0, 1)))
def test_benjamini_hochberg_matches_statsmodels(p: np.ndarray) -> None:
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, multipletests(p, method="fdr_bh")[1], rtol=1e-12, atol=1e-15)
    assert np.all(q >= p - 1e-15) and np.all(q <= 1)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(q[order]) >= -1e-15)  # monotone in p


def test_benjamini_hochberg_hand_example_and_errors() -> None:
    # sorted p 0.01 0.02 0.03 0.5 with n = 4: 0.04 0.04 0.04 0.5
    np.testing.assert_allclose(
        benjamini_hochberg(np.array([0.5, 0.01, 0.03, 0.02])), [0.5, 0.04, 0.04, 0.04]
    )
    assert benjamini_hochberg(np.empty(0)).size == 0
    with pytest.raises(InvalidInput):
        benjamini_hochberg(np.array([0.1, np.nan]))
    with pytest.raises(InvalidInput):
        benjamini_hochberg(np.array([1.5]))


def test_hotspot_bins_table() -> None:
    z = np.array([3.0, 2.0, 1.0, 0.5, -1.0, -2.0, -3.0, 0.0, 4.0])
    q = np.array([0.001, 0.02, 0.07, 0.5, 0.099, 0.0499, 0.0099, 0.001, 0.1])
    np.testing.assert_array_equal(hotspot_bins(z, q), [3, 2, 1, 0, -1, -2, -3, 0, 0])
    assert hotspot_bins(z, q).dtype == np.int8


# ---------------------------------------------------------------- local Moran's I


@pytest.fixture(scope="module")
def lsoa_rates(
    shared_data: Path, surrey_crime: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Crimes per 1,000 residents (mid-2019) per Surrey LSOA 2011, police.uk's own LSOA codes."""
    lsoas = gpd.read_file(shared_data / "boundaries" / "surrey_lsoa_2011.gpkg")
    pop = pd.read_csv(shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv")
    counts = surrey_crime["LSOA code"].value_counts()
    table = lsoas[["LSOA11CD"]].merge(pop, on="LSOA11CD", how="left")
    rate = counts.reindex(table["LSOA11CD"]).fillna(0).to_numpy() / table["population_mid2019"]
    return lsoas, (rate.to_numpy() * 1000.0)


def _libpysal_lsoa_queen(lsoas: gpd.GeoDataFrame) -> libpysal.weights.W:
    # libpysal's vertex Queen needs bit-identical shared vertices (see test_weights.py)
    rounded = lsoas.copy()
    rounded["geometry"] = shapely.transform(
        np.asarray(lsoas.geometry.array), lambda c: np.round(c, 3)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return libpysal.weights.Queen.from_dataframe(rounded, use_index=False)


def test_local_moran_matches_esda_on_lsoa_crime_rates(
    lsoa_rates: tuple[gpd.GeoDataFrame, np.ndarray],
) -> None:
    lsoas, rate = lsoa_rates
    ours = local_moran(rate, polygon_queen(np.asarray(lsoas.geometry.array)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.Moran_Local(
            rate, _libpysal_lsoa_queen(lsoas), transformation="r", permutations=0
        )
    np.testing.assert_allclose(ours.Is, ref.Is, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.z, (ref.Is - ref.EI) / np.sqrt(ref.VI), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ours.quadrant, ref.q)
    np.testing.assert_allclose(ours.p_value, 2 * stats.norm.sf(np.abs(ours.z)), rtol=1e-12)
    np.testing.assert_allclose(ours.q_value, multipletests(ours.p_value, method="fdr_bh")[1])
    assert set(np.unique(ours.quadrant)) == {1, 2, 3, 4}


def test_local_moran_p_sim_equals_esda_on_the_same_draws(
    lsoa_rates: tuple[gpd.GeoDataFrame, np.ndarray],
) -> None:
    lsoas, rate = lsoa_rates
    w = polygon_queen(np.asarray(lsoas.geometry.array))
    ours = local_moran(rate, w, permutations=99, seed=9)
    k = int(np.diff(w.indptr).max())
    ids = permuted_ids(rate.size - 1, k, 99, np.random.default_rng(9))
    z = (rate - rate.mean()) / rate.std()
    row = np.asarray(w.sum(axis=1)).ravel()
    wr = scipy.sparse.csr_matrix(scipy.sparse.diags(1 / row) @ w)
    scaling = (rate.size - 1) / (z * z).sum()
    ref = _esda_p_sim(z, wr, ours.Is, ids, scaling, _moran_local_crand)
    assert ours.p_sim is not None
    # float rounding of a sum in a different order can flip an exact tie; allow none here
    np.testing.assert_allclose(ours.p_sim, ref, rtol=1e-6)


def test_local_moran_on_grid_matches_esda_and_handles_islands() -> None:
    rng = np.random.default_rng(5)
    mask = rng.random((12, 14)) > 0.3
    y = rng.gamma(2.0, 3.0, int(mask.sum()))
    ours = local_moran(y, grid_queen(mask, include_self=False))
    ids = np.flatnonzero(mask.ravel()).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.w_subset(
            libpysal.weights.lat2W(12, 14, rook=False), ids, silence_warnings=True
        )
        ref = esda.Moran_Local(y, w, transformation="r", permutations=0)
    np.testing.assert_allclose(ours.Is, ref.Is, rtol=0, atol=1e-9)
    islands = np.asarray(w.sparse.sum(axis=1)).ravel() == 0
    finite = ~islands
    np.testing.assert_allclose(
        ours.z[finite], ((ref.Is - ref.EI) / np.sqrt(ref.VI))[finite], rtol=0, atol=1e-9
    )
    np.testing.assert_array_equal(ours.z[islands], 0.0)


def test_local_moran_constant_and_errors() -> None:
    w = grid_queen(np.ones((4, 4), dtype=bool), include_self=False)
    res = local_moran(np.full(16, 2.5), w, permutations=9, seed=0)
    np.testing.assert_array_equal(res.Is, 0.0)
    np.testing.assert_array_equal(res.z, 0.0)
    assert res.p_sim is not None
    np.testing.assert_array_equal(res.p_sim, 1.0)
    with pytest.raises(InvalidInput, match="self"):
        local_moran(np.arange(16.0), grid_queen(np.ones((4, 4), dtype=bool)))


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call",
    [
        lambda: gi_star(np.arange(4.0), scipy.sparse.identity(3, format="csr")),
        lambda: gi_star(np.arange(4.0), grid_queen(np.ones((2, 2), dtype=bool), False)),
        lambda: gi_star(np.array([1.0, np.nan]), scipy.sparse.identity(2, format="csr")),
        lambda: gi_star(np.array([1.0]), scipy.sparse.identity(1, format="csr")),
        lambda: gi_star(np.arange(4.0), np.eye(4)),
        lambda: gi_star(np.arange(4.0), -scipy.sparse.identity(4, format="csr")),
        lambda: gi_star(np.arange(4.0), scipy.sparse.identity(4, format="csr"), permutations=-1),
        lambda: gi_star_grid(CellGrid(1.0, 0, 0, np.ones((1, 1), np.int64), np.ones((1, 1), bool))),
    ],
)
def test_bad_input_raises(call: object) -> None:
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]
