"""geo.grid: BNG-aligned cells, counts, study-region masks."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geo.errors import InvalidGeometry, InvalidInput
from geo.grid import MAX_CELLS, grid_counts, occupied_region, snap_extent


def test_hand_worked_cells_follow_the_half_open_convention() -> None:
    # 100 m cells: x = 200.0 is the west edge of cell 2, 199.99 still in cell 1; -0.01 is cell -1.
    e = np.array([200.0, 199.99, 250.0, -0.01, 310.0])
    n = np.array([100.0, 100.0, 199.99, 0.0, 100.0])
    g = grid_counts(e, n, 100.0)
    assert (g.i0, g.j0, g.counts.shape) == (-1, 0, (2, 5))  # columns -1..3, rows 0..1
    expected = np.zeros((2, 5), dtype=np.int64)
    expected[0, 0] = 1  # (-1, 0)
    expected[1, 2] = 1  # (1, 1) <- 199.99, 100
    expected[1, 3] = 2  # (2, 1) <- 200, 100 and 250, 199.99
    expected[1, 4] = 1  # (3, 1)
    np.testing.assert_array_equal(g.counts, expected)
    assert g.counts.dtype == np.int64
    assert g.mask.all()


def test_explicit_extent_is_half_open_and_drops_outside_points() -> None:
    e = np.array([50.0, 150.0, 300.0, 299.0, -1.0])
    n = np.array([50.0, 50.0, 50.0, 50.0, 50.0])
    g = grid_counts(e, n, 100.0, extent=(0.0, 0.0, 300.0, 100.0))
    assert (g.i0, g.j0, g.counts.shape) == (0, 0, (1, 3))
    np.testing.assert_array_equal(g.counts, [[1, 1, 1]])  # 300.0 and -1.0 are outside


def test_counts_match_numpy_histogram2d() -> None:
    rng = np.random.default_rng(7)
    e = rng.uniform(451_000, 463_500, 20_000)
    n = rng.uniform(140_200, 151_900, 20_000)
    g = grid_counts(e, n, 250.0)
    ny, nx = g.counts.shape
    x_edges = (g.i0 + np.arange(nx + 1)) * 250.0
    y_edges = (g.j0 + np.arange(ny + 1)) * 250.0
    hist, _, _ = np.histogram2d(n, e, bins=[y_edges, x_edges])
    np.testing.assert_array_equal(g.counts, hist.astype(np.int64))


def test_cell_bounds_and_feature_order_are_row_major() -> None:
    mask_region = shapely.Polygon([(0, 0), (300, 0), (0, 300)])
    g = grid_counts(np.array([10.0]), np.array([10.0]), 100.0, region=mask_region)
    # cells whose interior overlaps the triangle x + y < 300: (0,0) (1,0) (2,0) (0,1) (1,1) (0,2)
    i, j = g.feature_ij()
    np.testing.assert_array_equal(i, [0, 1, 2, 0, 1, 0])
    np.testing.assert_array_equal(j, [0, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(g.cell_bounds()[4], [100.0, 100.0, 200.0, 200.0])
    np.testing.assert_array_equal(g.feature_counts(), [1, 0, 0, 0, 0, 0])
    assert g.n_features == 6


def test_cells_only_touching_the_region_are_not_in_the_mask() -> None:
    region = shapely.box(0, 0, 200, 200)
    g_region = grid_counts(
        np.array([50.0, 250.0]),
        np.array([50.0, 250.0]),
        100.0,
        extent=(-300, -300, 500, 500),
        region=region,
    )
    assert g_region.mask.shape == (8, 8)
    assert g_region.n_features == 4
    i, j = g_region.feature_ij()
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == {(0, 0), (1, 0), (0, 1), (1, 1)}
    assert g_region.counts.sum() == 1  # the point at (250, 250) is outside the mask


@pytest.mark.parametrize("cell_m", [1000.0, 500.0])
def test_region_mask_matches_brute_force_overlap_on_surrey(
    shared_data: Path, cell_m: float
) -> None:
    districts = gpd.read_file(shared_data / "boundaries" / "surrey_districts.gpkg")
    outline = shapely.union_all(np.asarray(districts.geometry.array))
    g = grid_counts(np.empty(0), np.empty(0), cell_m, region=outline)
    ny, nx = g.mask.shape
    jj, ii = np.mgrid[0:ny, 0:nx]
    x0, y0 = (g.i0 + ii.ravel()) * cell_m, (g.j0 + jj.ravel()) * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    overlap = shapely.area(shapely.intersection(boxes, outline)) > 0
    np.testing.assert_array_equal(g.mask.ravel(), overlap)
    # the masked cells cover the county (1,670 km2) with a fringe of partial cells
    covered_km2 = g.n_features * (cell_m / 1000) ** 2
    assert 1670 < covered_km2 < 1670 * 1.15


@settings(max_examples=60, deadline=None)
@given(
    xy=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 300), st.just(2)),
        elements=st.floats(0, 20_000, allow_nan=False),
    ),
    origin=st.tuples(st.floats(-5e3, 7e5), st.floats(-5e3, 1.2e6)),
    cell_m=st.sampled_from([25.0, 37.5, 100.0, 250.0, 1000.0]),
)
def test_every_point_is_counted_once_in_the_cell_that_contains_it(
    xy: np.ndarray, origin: tuple[float, float], cell_m: float
) -> None:
    e, n = xy[:, 0] + origin[0], xy[:, 1] + origin[1]
    g = grid_counts(e, n, cell_m)
    assert g.counts.sum() == e.size
    ci = np.floor(e / cell_m).astype(np.int64) - g.i0
    cj = np.floor(n / cell_m).astype(np.int64) - g.j0
    bounds = g.cell_bounds().reshape((*g.counts.shape, 4))[cj, ci]
    assert np.all((bounds[:, 0] <= e) & (e < bounds[:, 2]))
    assert np.all((bounds[:, 1] <= n) & (n < bounds[:, 3]))


def test_snap_extent_outward() -> None:
    assert snap_extent((10.0, -10.0, 290.0, 100.0), 100.0) == (0, -1, 3, 2)
    assert snap_extent((10.0, -10.0, 300.0, 100.0), 100.0, closed_max=True) == (0, -1, 4, 3)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((np.zeros(2), np.zeros(2), 0.0), {}),
        ((np.zeros(2), np.zeros(2), -5.0), {}),
        ((np.zeros(2), np.zeros(2), float("nan")), {}),
        ((np.zeros(2), np.zeros(3), 100.0), {}),
        ((np.array([0.0, np.nan]), np.zeros(2), 100.0), {}),
        ((np.empty(0), np.empty(0), 100.0), {}),
        ((np.zeros(1), np.zeros(1), 1.0), {"extent": (0.0, 0.0, 5001.0, 5000.0)}),
        ((np.zeros(1), np.zeros(1), 1.0), {"extent": (10.0, 0.0, 0.0, 5.0)}),
    ],
)
def test_bad_input_raises(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        grid_counts(*args, **kwargs)  # type: ignore[arg-type]


def test_grid_size_limit_is_25_million_cells() -> None:
    assert MAX_CELLS == 25_000_000
    assert snap_extent((0.0, 0.0, 5000.0, 5000.0), 1.0) == (0, 0, 5000, 5000)
    with pytest.raises(InvalidInput, match="25,000,000"):
        snap_extent((0.0, 0.0, 5000.0, 5001.0), 1.0)
    with pytest.raises(InvalidInput, match="25,000,000"):
        grid_counts(np.zeros(1), np.zeros(1), 0.5, region=shapely.box(0, 0, 2600, 2600))


def test_region_must_be_polygonal() -> None:
    with pytest.raises(InvalidGeometry):
        grid_counts(np.zeros(1), np.zeros(1), 10.0, region=shapely.LineString([(0, 0), (9, 9)]))
    with pytest.raises(InvalidGeometry):
        grid_counts(np.zeros(1), np.zeros(1), 10.0, region=shapely.Polygon())


def test_occupied_region_is_the_occupied_cells_and_their_neighbours() -> None:
    # Worked by hand: points in cells (0, 0), (0, 0) and (5, 0) of 1 km; with the queen ring
    # each occupied cell brings its 3 x 3 block: 18 km², two separate blocks.
    e, n = np.array([500.0, 999.0, 5500.0]), np.array([500.0, 10.0, 999.0])
    region = occupied_region(e, n, 1000.0)
    assert region.area == pytest.approx(18e6) and shapely.get_num_geometries(region) == 2
    assert region.bounds == (-1000.0, -1000.0, 7000.0, 2000.0)
    assert occupied_region(e, n, 1000.0, ring=0).area == pytest.approx(2e6)
    grid = grid_counts(e, n, 1000.0, region=region)
    assert grid.n_features == 18 and grid.counts.sum() == 3
    with pytest.raises(InvalidInput):
        occupied_region(np.array([]), np.array([]), 1000.0)
