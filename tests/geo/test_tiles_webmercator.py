"""Web Mercator tile arithmetic against the slippy-map formulas and pyproj."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon, box

from geo.errors import InvalidInput
from geo.tiles.webmercator import (
    in_bounds,
    lonlat_to_mercator,
    mercator_to_lonlat,
    polygon_rings,
    simplify_for_zoom,
    tile_bounds,
    tiles_for_bounds,
    to_mercator,
    validate_tile,
)

HALF_WORLD_M = 20037508.342789244
TO_3857 = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)


def _slippy_corner(z: int, x: int, y: int) -> tuple[float, float]:
    """North-west corner of an XYZ tile in degrees (OSM wiki "Slippy map tilenames")."""
    n = 2.0**z
    return x / n * 360.0 - 180.0, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


@pytest.fixture(scope="module")
def ostn15_to_lonlat(shared_data: Path):  # type: ignore[no-untyped-def]
    pyproj.datadir.append_data_dir(str(shared_data / "proj"))
    transformer = pyproj.Transformer.from_crs(27700, 4326, always_xy=True)
    return transformer.transform


def test_zoom_zero_covers_the_whole_mercator_square() -> None:
    assert tile_bounds(0, 0, 0) == pytest.approx(
        (-HALF_WORLD_M, -HALF_WORLD_M, HALF_WORLD_M, HALF_WORLD_M), abs=1e-9
    )
    assert tile_bounds(1, 1, 0) == pytest.approx((0.0, 0.0, HALF_WORLD_M, HALF_WORLD_M), abs=1e-9)


@pytest.mark.parametrize(("z", "x", "y"), [(12, 2045, 1367), (10, 511, 341), (17, 65472, 43780)])
def test_surrey_tile_bounds_equal_slippy_formula_through_pyproj(z: int, x: int, y: int) -> None:
    west, north = _slippy_corner(z, x, y)
    east, south = _slippy_corner(z, x + 1, y + 1)
    min_x, min_y = TO_3857.transform(west, south)
    max_x, max_y = TO_3857.transform(east, north)
    assert tile_bounds(z, x, y) == pytest.approx((min_x, min_y, max_x, max_y), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-85.05, 85.05))
def test_lonlat_to_mercator_equals_pyproj_and_round_trips(lon: float, lat: float) -> None:
    x, y = lonlat_to_mercator(np.array([lon]), np.array([lat]))
    px, py = TO_3857.transform(lon, lat)
    assert x[0] == pytest.approx(px, abs=1e-6) and y[0] == pytest.approx(py, abs=1e-6)
    back_lon, back_lat = mercator_to_lonlat(x, y)
    assert back_lon[0] == pytest.approx(lon, abs=1e-9) and back_lat[0] == pytest.approx(
        lat, abs=1e-9
    )


def test_latitudes_beyond_the_square_are_clamped() -> None:
    _, y = lonlat_to_mercator(np.array([0.0, 0.0]), np.array([89.9, -90.0]))
    assert y == pytest.approx([HALF_WORLD_M, -HALF_WORLD_M])


def test_to_mercator_goes_through_the_injected_ostn15_transform(
    shared_data: Path, ostn15_to_lonlat
) -> None:  # type: ignore[no-untyped-def]
    wards = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    geoms = np.append(wards.geometry.values[:5], None)
    projected = to_mercator(geoms, ostn15_to_lonlat)
    assert projected[-1] is None
    direct = pyproj.Transformer.from_crs(27700, 3857, always_xy=True)
    for source, result in zip(geoms[:5], projected[:5], strict=True):
        bng = shapely.get_coordinates(source)
        expected = np.column_stack(direct.transform(bng[:, 0], bng[:, 1]))
        np.testing.assert_allclose(shapely.get_coordinates(result), expected, atol=1e-3)
        assert result.geom_type == source.geom_type


def test_to_mercator_rejects_a_transform_of_the_wrong_shape() -> None:
    with pytest.raises(InvalidInput):
        to_mercator(np.array([box(0, 0, 1, 1)]), lambda e, n: (e[:1], n[:1]))


def test_tiles_for_surrey_bounds_match_the_slippy_formula() -> None:
    west, south, east, north = -0.85, 51.07, 0.06, 51.47  # Surrey, degrees
    for z in (0, 8, 12):
        n = 2**z
        x0 = math.floor((west + 180) / 360 * n)
        x1 = math.floor((east + 180) / 360 * n)
        y0 = math.floor((1 - math.asinh(math.tan(math.radians(north))) / math.pi) / 2 * n)
        y1 = math.floor((1 - math.asinh(math.tan(math.radians(south))) / math.pi) / 2 * n)
        expected = [(z, x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
        assert tiles_for_bounds((west, south, east, north), z) == expected
    assert len(tiles_for_bounds((west, south, east, north), 12)) == 11 * 8


def test_bounds_ending_on_a_tile_edge_do_not_take_the_next_tile() -> None:
    assert tiles_for_bounds((-180.0, 0.0, 0.0, 85.0), 1) == [(1, 0, 0)]
    assert tiles_for_bounds((-180.0, -85.0511287798, 180.0, 85.0511287798), 1) == [
        (1, 0, 0), (1, 1, 0), (1, 0, 1), (1, 1, 1),
    ]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    lon=st.floats(-179.0, 178.0),
    lat=st.floats(-80.0, 79.0),
    width=st.floats(0.0, 1.0),
    height=st.floats(0.0, 1.0),
    z=st.integers(0, 10),
)
def test_tiles_for_bounds_cover_and_touch_the_box(
    lon: float, lat: float, width: float, height: float, z: int
) -> None:
    bbox = (lon, lat, lon + width, lat + height)
    tiles = tiles_for_bounds(bbox, z)
    x_min, y_min = lonlat_to_mercator(np.array([bbox[0]]), np.array([bbox[1]]))
    x_max, y_max = lonlat_to_mercator(np.array([bbox[2]]), np.array([bbox[3]]))
    covered = shapely.union_all([box(*tile_bounds(*t)) for t in tiles])
    target = box(x_min[0], y_min[0], x_max[0], y_max[0])
    assert covered.buffer(1e-3).contains(target)
    for t in tiles:  # none superfluous
        assert box(*tile_bounds(*t)).intersects(target.buffer(1e-3))


def test_simplify_for_zoom_keeps_shapes_within_tolerance(
    shared_data: Path, ostn15_to_lonlat
) -> None:  # type: ignore[no-untyped-def]
    wards = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    merc = to_mercator(wards.geometry.values, ostn15_to_lonlat)
    simplified = simplify_for_zoom(merc, 8)
    tolerance_m = 0.5 * 2 * HALF_WORLD_M / 2**8 / 4096
    assert shapely.get_num_coordinates(simplified).sum() < shapely.get_num_coordinates(merc).sum()
    assert shapely.is_valid(simplified).all()
    assert (shapely.hausdorff_distance(merc, simplified) <= tolerance_m * 1.001).all()
    assert (
        shapely.get_num_interior_rings(simplified) <= shapely.get_num_interior_rings(merc)
    ).all()


@settings(max_examples=50, deadline=None)
@given(size_m=st.floats(0.01, 1000.0), z=st.integers(0, 12))
def test_simplify_never_empties_a_geometry(size_m: float, z: int) -> None:
    shapes = np.array(
        [box(0, 0, size_m, size_m / 3), LineString([(0, 0), (size_m, size_m / 7), (size_m, 0)])]
    )
    out = simplify_for_zoom(shapes, z)
    assert not shapely.is_empty(out).any()
    assert shapely.is_valid(out).all()


@pytest.mark.parametrize(
    ("z", "x", "y"),
    [(-1, 0, 0), (23, 0, 0), (1, 2, 0), (1, 0, 2), (3, -1, 0), (2.0, 0, 0), (True, 0, 0)],
)
def test_validate_tile_rejects_out_of_range(z: object, x: object, y: object) -> None:
    with pytest.raises(InvalidInput):
        validate_tile(z, x, y)  # type: ignore[arg-type]


def test_validate_tile_accepts_the_corners() -> None:
    validate_tile(0, 0, 0)
    validate_tile(22, 2**22 - 1, 2**22 - 1)
    validate_tile(np.int64(5), np.int64(31), np.int64(0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        validate_tile(15, 0, 0, max_zoom=14)


def test_bad_bounds_and_tolerances_raise() -> None:
    with pytest.raises(InvalidInput):
        tiles_for_bounds((10.0, 0.0, -10.0, 1.0), 3)  # crosses the antimeridian
    with pytest.raises(InvalidInput):
        tiles_for_bounds((0.0, 0.0, float("nan"), 1.0), 3)
    with pytest.raises(InvalidInput):
        simplify_for_zoom(np.array([box(0, 0, 1, 1)]), 3, tolerance_px=-1.0)


def test_in_bounds_and_polygon_rings_flatten_hand_example() -> None:
    square = box(0, 0, 10, 10)
    holed = Polygon([(20, 0), (30, 0), (30, 10), (20, 10)], [[(22, 2), (24, 2), (24, 4)]])
    geoms = np.array([square, None, holed, LineString([(0, 0), (1, 1)])], dtype=object)
    assert in_bounds(geoms, (5, 5, 21, 6)).tolist() == [0, 2]
    coords, ring, ring_part, owner = polygon_rings(geoms)
    assert owner.tolist() == [0, 2]
    assert ring_part.tolist() == [0, 1, 1]  # square exterior; holed exterior + hole
    assert np.bincount(ring).tolist() == [5, 5, 4]
    assert coords.shape == (14, 2)
