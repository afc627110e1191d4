"""geo.assign: answers equal GEOS/geopandas off the edges, and the documented edge rule on them.

References: ``geopandas.sjoin(predicate="within")`` and ``shapely.contains_xy`` for points off the
boundaries; SOURCES.md's published fit check (78,728 of 79,507 located 2022 rows inside the
districts); an exact rational point-in-polygon test of the pushed point ``p + (ε, ε²)`` written out
below for points on edges and vertices; hand-worked squares.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.assign import AreaIndex
from geo.errors import InvalidGeometry, InvalidInput

# ETRS89 (= WGS84 as police.uk publishes it) lon/lat -> OSGB36 British National Grid via OSTN15.
PIPELINE = (
    "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
    "+step +inv +proj=hgridshift +grids={grid} "
    "+step +proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy"
)
EPS = Fraction(1, 2**100)


def police_points(data: Path, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    files = sorted((data / "crime" / "surrey").glob(f"{pattern}-surrey-street.csv"))
    frame = pd.concat([pd.read_csv(f, usecols=["Longitude", "Latitude"]) for f in files])
    frame = frame.dropna()
    grid = data / "proj" / "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"
    transformer = pyproj.Transformer.from_pipeline(PIPELINE.format(grid=grid))
    easting, northing = transformer.transform(
        frame["Longitude"].to_numpy(), frame["Latitude"].to_numpy()
    )
    return np.asarray(easting), np.asarray(northing)


def layer(data: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(data / "boundaries" / f"{name}.gpkg")


def lowest_within(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Reference: lowest index of the areas strictly containing each point, -1 for none."""
    pt, area = shapely.STRtree(geoms).query(shapely.points(x, y), predicate="within")
    out = np.full(x.size, np.iinfo(np.int64).max)
    np.minimum.at(out, pt, area)
    return np.where(out == np.iinfo(np.int64).max, -1, out)


def on_some_edge(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pt, area = shapely.STRtree(geoms).query(shapely.points(x, y), predicate="intersects")
    edge = ~shapely.contains_xy(geoms[area], x[pt], y[pt])
    return np.bincount(pt[edge], minlength=x.size) > 0


def pushed_inside_exact(geom: shapely.Geometry, x: float, y: float) -> bool:
    """Even-odd test of the rational point (x + ε, y + ε²), ε = 2**-100, in exact arithmetic.

    Coordinates below 2**19 m are multiples of 2**-36 m, so a point off an edge's line is at least
    about 2**-92 m from it: pushing it by less than 2**-99 m crosses only edges through the point,
    and this finite push equals the infinitesimal rule of geo.assign.
    """
    px, py = Fraction(x) + EPS, Fraction(y) + EPS * EPS
    inside = False
    for ring in shapely.get_rings(shapely.get_parts(geom)):
        pts = [(Fraction(a), Fraction(b)) for a, b in shapely.get_coordinates(ring)]
        for (ax, ay), (bx, by) in pairwise(pts):
            if (ay > py) != (by > py):
                x_cross = ax + (py - ay) * (bx - ax) / (by - ay)
                assert x_cross != px, "pushed point on an edge: reference undecided"
                inside ^= x_cross > px
    return inside


@pytest.fixture(scope="module")
def wards2019(shared_data: Path) -> gpd.GeoDataFrame:
    return layer(shared_data, "surrey_wards_2019")


@pytest.fixture(scope="module")
def wards2013(shared_data: Path) -> gpd.GeoDataFrame:
    return layer(shared_data, "surrey_wards_2013")


@pytest.fixture(scope="module")
def index2013(wards2013: gpd.GeoDataFrame) -> AreaIndex:
    return AreaIndex.build(wards2013.geometry.values)


@pytest.fixture(scope="module")
def points2022(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    return police_points(shared_data, "2022-*")


def test_real_police_points_equal_geopandas_sjoin(
    shared_data: Path, wards2019: gpd.GeoDataFrame
) -> None:
    easting, northing = police_points(shared_data, "202*")
    assert easting.size > 170_000
    geoms = wards2019.geometry.values
    got = AreaIndex.build(geoms).assign(easting, northing)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(easting, northing), crs=27700)
    joined = gpd.sjoin(points, wards2019[["geometry"]], predicate="within", how="left")
    assert len(joined) == easting.size  # the wards tile: no point is in two
    expected = joined["index_right"].fillna(-1).astype(int).to_numpy()
    off_edge = ~on_some_edge(geoms, easting, northing)
    assert off_edge.sum() >= easting.size - 10
    np.testing.assert_array_equal(got[off_edge], expected[off_edge])
    assert (got >= 0).sum() > 0.98 * easting.size


@pytest.mark.parametrize(
    ("name", "inside"),
    [
        ("surrey_districts", 78_728),
        ("surrey_wards_2013", 78_728),
        ("surrey_wards_2019", 78_728),
        ("surrey_csp_2022", 78_713),
        ("surrey_lsoa_2011", 78_718),
    ],
)
def test_fit_check_of_sources_md(
    shared_data: Path, points2022: tuple[np.ndarray, np.ndarray], name: str, inside: int
) -> None:
    easting, northing = points2022
    assert easting.size == 79_507
    frame = layer(shared_data, name)
    got = AreaIndex.build(frame.geometry.values).assign(easting, northing)
    assert int((got >= 0).sum()) == inside
    if name == "surrey_districts":
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(easting, northing), crs=27700)
        joined = gpd.sjoin(points, frame, predicate="within")
        expected = joined["LAD_NM"].value_counts().sort_index()
        ours = pd.Series(frame["LAD_NM"].to_numpy()[got[got >= 0]]).value_counts().sort_index()
        pd.testing.assert_series_equal(ours, expected, check_names=False)


@pytest.mark.parametrize("name", ["surrey_wards_2019", "surrey_lsoa_2011"])
def test_random_points_equal_contains_xy(shared_data: Path, name: str) -> None:
    geoms = layer(shared_data, name).geometry.values
    rng = np.random.default_rng(20190)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    x = rng.uniform(xmin - 500, xmax + 500, 200_000)
    y = rng.uniform(ymin - 500, ymax + 500, 200_000)
    x[: x.size // 2] = np.round(x[: x.size // 2])  # grid references are whole metres
    y[: y.size // 2] = np.round(y[: y.size // 2])
    got = AreaIndex.build(geoms).assign(x, y)
    expected = lowest_within(geoms, x, y)
    off_edge = ~on_some_edge(geoms, x, y)
    np.testing.assert_array_equal(got[off_edge], expected[off_edge])
    assert (expected == -1).any() and (expected >= 0).sum() > 100_000


@pytest.mark.parametrize("cell_m", [20.0, 50.0, 400.0, 5000.0])
def test_answer_does_not_depend_on_cell_size(wards2019: gpd.GeoDataFrame, cell_m: float) -> None:
    geoms = wards2019.geometry.values
    rng = np.random.default_rng(7)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    x, y = rng.uniform(xmin, xmax, 30_000), rng.uniform(ymin, ymax, 30_000)
    index = AreaIndex.build(geoms, cell_m=cell_m)
    assert index.cell_m == cell_m
    np.testing.assert_array_equal(index.assign(x, y), lowest_within(geoms, x, y))


def boundary_points(wards: gpd.GeoDataFrame) -> np.ndarray:
    """Every vertex of the layer and every edge midpoint (rounded in floating point)."""
    coords, ring = shapely.get_coordinates(
        shapely.get_rings(shapely.get_parts(wards.geometry.values)), return_index=True
    )
    same = ring[1:] == ring[:-1]
    mids = (coords[:-1][same] + coords[1:][same]) / 2
    return np.unique(np.concatenate([coords, mids]), axis=0)


@pytest.fixture(scope="module")
def edge_points(wards2013: gpd.GeoDataFrame) -> np.ndarray:
    return boundary_points(wards2013)


@pytest.fixture(scope="module")
def outline2013(wards2013: gpd.GeoDataFrame) -> shapely.Geometry:
    return shapely.boundary(shapely.union_all(wards2013.geometry.values))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_points_on_shared_edges_and_vertices_land_in_exactly_one_area(
    data: st.DataObject,
    wards2013: gpd.GeoDataFrame,
    index2013: AreaIndex,
    edge_points: np.ndarray,
    outline2013: shapely.Geometry,
) -> None:
    x, y = edge_points[data.draw(st.integers(0, len(edge_points) - 1))]
    geoms = wards2013.geometry.values
    touching = shapely.STRtree(geoms).query(shapely.Point(x, y), predicate="intersects")
    claims = [int(a) for a in sorted(touching) if pushed_inside_exact(geoms[a], x, y)]
    got = int(index2013.assign(np.array([x]), np.array([y]))[0])
    assert got == (claims[0] if claims else -1)
    if touching.size and not shapely.intersects_xy(outline2013, x, y):
        assert len(claims) == 1  # the layer tiles: inside the outline exactly one area claims it


def test_edge_rule_on_hand_worked_squares() -> None:
    # 2 x 2 squares of 100 m: 0 = SW, 1 = SE, 2 = NW, 3 = NE. Shared edges at x = 100, y = 100.
    squares = np.array([shapely.box(x, y, x + 100, y + 100) for y in (0, 100) for x in (0, 100)])
    index = AreaIndex.build(squares, cell_m=10)
    x = np.array([100.0, 100.0, 50.0, 150.0, 100.0, 0.0, 200.0, 50.0, 50.0, 200.0])
    y = np.array([50.0, 150.0, 100.0, 100.0, 100.0, 50.0, 50.0, 0.0, 200.0, 200.0])
    # Pushed east then north: (100, 50) -> SE; (100, 150) -> NE; (50, 100) -> NW; (150, 100) -> NE;
    # the centre vertex -> NE; west outline -> SW; east outline -> outside; south outline -> SW;
    # north outline -> outside; NE corner -> outside.
    expected = np.array([1, 3, 2, 3, 3, 0, -1, 0, -1, -1])
    np.testing.assert_array_equal(index.assign(x, y), expected)


def test_overlaps_lowest_index_wins_and_gaps_are_outside() -> None:
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 2000, (40, 2))
    discs = shapely.buffer(shapely.points(centres), rng.uniform(50, 400, 40))
    discs[5] = shapely.difference(discs[5], shapely.buffer(shapely.points(centres[5]), 30))
    x, y = rng.uniform(-300, 2300, 100_000), rng.uniform(-300, 2300, 100_000)
    for cell_m in (None, 20.0):
        got = AreaIndex.build(discs, cell_m=cell_m).assign(x, y)
        np.testing.assert_array_equal(got, lowest_within(discs, x, y))
    hole = AreaIndex.build(discs[5:6]).assign(np.array([centres[5, 0]]), np.array([centres[5, 1]]))
    assert hole[0] == -1


def test_to_bytes_round_trip(
    wards2013: gpd.GeoDataFrame, index2013: AreaIndex, edge_points: np.ndarray
) -> None:
    geoms = wards2013.geometry.values
    blob = index2013.to_bytes()
    again = AreaIndex.from_bytes(blob, geoms)
    assert again.n_areas == index2013.n_areas == 206
    assert again.to_bytes() == blob
    rng = np.random.default_rng(11)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    x = np.concatenate([rng.uniform(xmin, xmax, 50_000), edge_points[:, 0]])
    y = np.concatenate([rng.uniform(ymin, ymax, 50_000), edge_points[:, 1]])
    np.testing.assert_array_equal(again.assign(x, y), index2013.assign(x, y))
    with pytest.raises(InvalidInput, match="other geometries"):
        AreaIndex.from_bytes(blob, geoms[::-1])
    for junk in (b"not an index", blob[: len(blob) // 2], b""):
        with pytest.raises(InvalidInput):
            AreaIndex.from_bytes(junk, geoms)


def test_nan_infinite_and_far_points_are_outside(index2013: AreaIndex) -> None:
    x = np.array([[np.nan, 500_000.0, np.inf], [0.0, 1e12, -np.inf]])
    y = np.array([[150_000.0, np.nan, 150_000.0], [0.0, 1e12, 150_000.0]])
    got = index2013.assign(x, y)
    assert got.shape == (2, 3) and got.dtype == np.int32
    assert (got == -1).all()
    with pytest.raises(InvalidInput):
        index2013.assign(np.zeros(3), np.zeros(2))
    assert index2013.assign(np.array([]), np.array([])).size == 0


@pytest.mark.parametrize(
    "bad",
    [
        shapely.Point(0, 0),
        shapely.Polygon(),
        None,
        shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]),  # bow-tie: repair it first
    ],
)
def test_build_rejects_unusable_geometry(bad: shapely.Geometry | None) -> None:
    with pytest.raises(InvalidGeometry, match="#1"):
        AreaIndex.build(np.array([shapely.box(0, 0, 1, 1), bad], dtype=object))


def test_build_rejects_bad_cell_size() -> None:
    with pytest.raises(InvalidInput):
        AreaIndex.build(np.array([shapely.box(0, 0, 1000, 1000)]), cell_m=0)
    with pytest.raises(InvalidInput):
        AreaIndex.build(np.array([shapely.box(0, 0, 1e6, 1e6)]), cell_m=1)
