"""geo.weights against libpysal: grid queen contiguity and polygon queen contiguity."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import libpysal
import numpy as np
import pytest
import scipy.sparse
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geo.errors import InvalidGeometry, InvalidInput
from geo.grid import grid_counts
from geo.weights import grid_queen, polygon_queen


def _libpysal_grid(mask: np.ndarray, include_self: bool) -> scipy.sparse.csr_matrix:
    """lat2W(rook=False) restricted to the masked cells (row-major ids), plus the diagonal."""
    ny, nx = mask.shape
    ids = np.flatnonzero(mask.ravel()).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands / disconnected components warnings
        w = libpysal.weights.lat2W(ny, nx, rook=False)
        w = libpysal.weights.w_subset(w, ids, silence_warnings=True)
        if include_self:
            w = libpysal.weights.util.fill_diagonal(w, 1.0)
    # w_subset keeps the order of ``ids``, which is our row-major feature order
    assert w.id_order == ids
    return scipy.sparse.csr_matrix(w.sparse)


def _pairs(w: scipy.sparse.spmatrix) -> set[tuple[int, int]]:
    coo = scipy.sparse.coo_matrix(w)
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def _libpysal_pairs(w: libpysal.weights.W) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, nbrs in w.neighbors.items() for j in nbrs}


@settings(max_examples=40, deadline=None)
@given(
    mask=hnp.arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9))),
    include_self=st.booleans(),
)
def test_grid_queen_matches_libpysal_lat2w(mask: np.ndarray, include_self: bool) -> None:
    if not mask.any():
        return
    ours = grid_queen(mask, include_self=include_self)
    ref = _libpysal_grid(mask, include_self)
    assert ours.shape == ref.shape
    assert _pairs(ours) == _pairs(ref)
    np.testing.assert_array_equal(ours.data, 1.0)


def test_grid_queen_hand_example() -> None:
    # 2 x 3 grid, south-east cell not in the mask: features 0 1 2 (row 0) -> 0 1 _, row 1 -> 2 3 4
    mask = np.array([[True, True, False], [True, True, True]])
    w = grid_queen(mask, include_self=False).toarray()
    expected = np.array(
        [
            [0, 1, 1, 1, 0],
            [1, 0, 1, 1, 1],
            [1, 1, 0, 1, 0],
            [1, 1, 1, 0, 1],
            [0, 1, 0, 1, 0],
        ]
    )
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_array_equal(grid_queen(mask).toarray(), expected + np.eye(5))


def test_grid_queen_on_a_real_mask_matches_libpysal(shared_data: Path) -> None:
    districts = gpd.read_file(shared_data / "boundaries" / "surrey_districts.gpkg")
    outline = shapely.union_all(np.asarray(districts.geometry.array))
    g = grid_counts(np.empty(0), np.empty(0), 1000.0, region=outline)
    ours = grid_queen(g.mask)
    ref = _libpysal_grid(g.mask, include_self=True)
    assert (ours != ref).nnz == 0
    assert ours.shape[0] == g.n_features


def test_grid_queen_rejects_non_2d() -> None:
    with pytest.raises(InvalidInput):
        grid_queen(np.ones(4, dtype=bool))


def _read(shared_data: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(shared_data / "boundaries" / f"{name}.gpkg")


def _queen(df: gpd.GeoDataFrame) -> libpysal.weights.W:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return libpysal.weights.Queen.from_dataframe(df, use_index=False, silence_warnings=True)


@pytest.mark.parametrize(
    ("name", "links"), [("surrey_wards_2019", 996), ("surrey_wards_2013", 1108)]
)
def test_polygon_queen_equals_libpysal_queen_on_wards(
    shared_data: Path, name: str, links: int
) -> None:
    df = _read(shared_data, name)
    ours = polygon_queen(np.asarray(df.geometry.array))
    assert _pairs(ours) == _libpysal_pairs(_queen(df))
    assert ours.nnz == links
    assert (ours != ours.T).nnz == 0
    assert ours.diagonal().sum() == 0
    # exact test (tolerance 0) gives the same answer on these layers
    assert _pairs(polygon_queen(np.asarray(df.geometry.array), tolerance_m=0.0)) == _pairs(ours)


def test_polygon_queen_on_lsoas_and_why_libpysal_vertex_queen_differs(shared_data: Path) -> None:
    """LSOA 2011: libpysal's Queen finds no neighbour at all; the reason is vertex noise.

    The layer was reprojected from CRS84, so a vertex shared by two LSOAs carries ~1e-7 m of
    floating-point noise in one polygon relative to the other. libpysal's Queen matches vertices
    exactly, so it links nothing (709 islands). An exact boundary-intersection test (tolerance 0)
    finds 3,768 of the 4,016 directed links; 248 (124 pairs) are separated by micro-gaps. With
    the default 1 cm tolerance we find 4,016, identical to libpysal's Queen on coordinates
    rounded to the millimetre and to libpysal's fuzzy_contiguity with a 5 mm buffer.
    """
    df = _read(shared_data, "surrey_lsoa_2011")
    geoms = np.asarray(df.geometry.array)
    assert _libpysal_pairs(_queen(df)) == set()
    a, b = shapely.get_coordinates(geoms[0]), shapely.get_coordinates(geoms[2])
    gap = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert 0 < gap.min() < 1e-5  # the "same" vertex in two LSOAs, not bit-identical

    ours = polygon_queen(geoms)
    exact = polygon_queen(geoms, tolerance_m=0.0)
    assert (ours.nnz, exact.nnz) == (4016, 3768)
    assert _pairs(exact) <= _pairs(ours)

    rounded = df.copy()
    rounded["geometry"] = shapely.transform(geoms, lambda c: np.round(c, 3))
    assert _pairs(ours) == _libpysal_pairs(_queen(rounded))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fuzzy = libpysal.weights.fuzzy_contiguity(df, buffering=True, buffer=0.005)
    assert _pairs(ours) == _libpysal_pairs(fuzzy)


def test_polygon_queen_hand_example() -> None:
    geoms = np.array(
        [
            shapely.box(0, 0, 1, 1),
            shapely.box(1, 0, 2, 1),  # shares an edge with 0
            shapely.box(2, 1, 3, 2),  # shares only a corner with 1
            shapely.box(5, 5, 6, 6),  # island
        ]
    )
    w = polygon_queen(geoms).toarray()
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = expected[1, 2] = expected[2, 1] = 1
    np.testing.assert_array_equal(w, expected)


def test_polygon_queen_rejects_bad_geometries() -> None:
    with pytest.raises(InvalidGeometry):
        polygon_queen(np.array([shapely.box(0, 0, 1, 1), None], dtype=object))
    with pytest.raises(InvalidGeometry):
        polygon_queen(np.array([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)]))
    with pytest.raises(InvalidGeometry):
        polygon_queen(np.array([shapely.box(0, 0, 1, 1), shapely.Polygon()]))
    with pytest.raises(InvalidInput):
        polygon_queen(np.array([shapely.box(0, 0, 1, 1)]), tolerance_m=-1.0)
