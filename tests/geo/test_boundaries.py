"""geo.boundaries: real Surrey layers (which tile) and small hand-made bad layers.

References: SOURCES.md (wards 2013 tile the county, 1,670.0 km²), geopandas areas and bounds, the
inclusion-exclusion identity sum(areas) - area(union) = sum(pairwise overlaps), pyproj/geopandas
reprojection, and areas worked out by hand below.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from pyproj.transformer import TransformerGroup

from geo.boundaries import ensure_bng, validate_layer
from geo.errors import (
    CRSMismatch,
    GridFileMissing,
    InvalidGeometry,
    InvalidInput,
    OutsideGridExtent,
)
from tests.geo.test_assign import PIPELINE

LAYERS = {
    "surrey_wards_2013": ("WD13CD", "WD13NM"),
    "surrey_wards_2019": ("WD19CD", "WD19NM"),
    "surrey_districts": ("LAD_CD", "LAD_NM"),
    "surrey_csp_2022": ("CSP22CD", "CSP22NM"),
}


def layer(data: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(data / "boundaries" / f"{name}.gpkg")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_real_layers_tile_and_pass_unchanged(shared_data: Path, name: str) -> None:
    frame = layer(shared_data, name)
    code, label = LAYERS[name]
    result = validate_layer(frame[code], frame[label], frame.geometry.values)
    report = result.report
    assert report.features == len(frame)
    assert report.repaired == [] and report.gaps == [] and report.overlaps == []
    assert report.total_area_m2 == pytest.approx(frame.area.sum(), rel=1e-9)
    assert report.bounds == pytest.approx(tuple(frame.total_bounds), abs=1e-6)
    assert (shapely.get_type_id(result.geometries) == shapely.GeometryType.MULTIPOLYGON).all()
    assert shapely.equals(result.geometries, frame.geometry.values).all()
    assert result.codes.tolist() == frame[code].tolist()
    assert result.names.tolist() == frame[label].tolist()
    if name in {"surrey_wards_2013", "surrey_districts"}:
        assert report.total_area_m2 / 1e6 == pytest.approx(1670.0, abs=0.05)  # SOURCES.md


def test_lsoa_hairline_slivers_are_reported_below_the_threshold(shared_data: Path) -> None:
    frame = layer(shared_data, "surrey_lsoa_2011")
    args = (frame["LSOA11CD"], frame["LSOA11NM"], frame.geometry.values)
    assert validate_layer(*args).report.overlaps == []  # all under 1 m²
    report = validate_layer(*args, min_sliver_m2=0.0).report
    overlap_total = sum(area for *_, area in report.overlaps)
    union = shapely.union_all(frame.geometry.values)
    assert overlap_total == pytest.approx(frame.area.sum() - union.area, abs=1e-3)
    holes = gpd.GeoSeries([union]).explode().interiors.explode().dropna()
    hole_area = sum(shapely.Polygon(ring).area for ring in holes)
    assert sum(area for area, _, _ in report.gaps) == pytest.approx(hole_area, rel=1e-9)
    assert 0 < overlap_total < 1 and len(report.gaps) > 1000


def boxes(*coords: tuple[float, float, float, float]) -> np.ndarray:
    return np.array([shapely.box(*c) for c in coords], dtype=object)


def test_bow_tie_is_repaired_and_reported() -> None:
    # Self-crossing at (100, 100): two triangles of 200 x 100 / 2 = 10,000 m² each. GEOS gives the
    # invalid ring a shoelace area of 0, so the reported change is +20,000 m².
    bow_tie = shapely.Polygon([(0, 0), (200, 200), (200, 0), (0, 200)])
    geoms = np.array([bow_tie, shapely.box(300, 0, 400, 100)], dtype=object)
    result = validate_layer(["BOW", "SQ"], ["bow tie", "square"], geoms)
    assert result.report.repaired == [("BOW", 20_000.0)]
    fixed = result.geometries[0]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    assert fixed.area == 20_000.0
    assert result.report.total_area_m2 == 30_000.0


def test_collection_keeps_only_its_areal_part() -> None:
    mixed = shapely.GeometryCollection(
        [shapely.box(0, 0, 100, 100), shapely.LineString([(0, 0), (500, 500)]), shapely.Point(9, 9)]
    )
    result = validate_layer(["GC"], ["collection"], np.array([mixed], dtype=object))
    assert result.report.repaired == [("GC", 0.0)]
    assert shapely.equals(result.geometries[0], shapely.box(0, 0, 100, 100))


def test_overlap_is_reported_with_its_area() -> None:
    geoms = boxes((0, 0, 100, 100), (80, 0, 180, 100), (500, 0, 600, 100))
    report = validate_layer(["A", "B", "C"], ["a", "b", "c"], geoms).report
    assert report.overlaps == [("A", "B", 2_000.0)]  # 20 m x 100 m
    assert report.total_area_m2 == 28_000.0
    assert report.bounds == (0.0, 0.0, 600.0, 100.0)


def nine_squares(centre: tuple[float, float, float, float]) -> np.ndarray:
    cells = [(x, y, x + 100, y + 100) for x in (0, 100, 200) for y in (0, 100, 200)]
    cells[4] = centre  # (100, 100, 200, 200) when the layer tiles
    return boxes(*cells)


def test_gap_inside_the_outline_is_reported() -> None:
    codes = [f"S{i}" for i in range(9)]
    # The centre square shrunk to nothing but a far island: a 100 x 100 m hole in the layer.
    report = validate_layer(codes, codes, nine_squares((400, 400, 401, 401))).report
    assert len(report.gaps) == 1
    area, x, y = report.gaps[0]
    assert area == 10_000.0 and 100 < x < 200 and 100 < y < 200
    # Centre square 5 mm short at the top: an enclosed 100 m x 0.005 m = 0.5 m² sliver.
    sliver = nine_squares((100, 100, 200, 199.995))
    assert validate_layer(codes, codes, sliver).report.gaps == []
    (area, _, y), *_ = validate_layer(codes, codes, sliver, min_sliver_m2=0.1).report.gaps
    assert area == pytest.approx(0.5) and 199.995 < y < 200
    # A notch open to the outside is not a gap.
    notch = boxes((0, 0, 100, 100), (100, 0, 200, 100), (0, 100.5, 200, 200))
    assert validate_layer(["a", "b", "c"], ["", "", ""], notch, min_sliver_m2=0).report.gaps == []


def test_codes_must_be_present_and_unique() -> None:
    geoms = boxes((0, 0, 1, 1), (1, 0, 2, 1), (2, 0, 3, 1))
    with pytest.raises(InvalidInput, match="duplicate codes: E05000001"):
        validate_layer(["E05000001", "E05000002", "E05000001"], ["a", "b", "c"], geoms)
    for missing in (None, "", "  ", float("nan")):
        with pytest.raises(InvalidInput, match=r"missing code at feature positions \[1\]"):
            validate_layer(["A", missing, "C"], ["a", "b", "c"], geoms)
    with pytest.raises(InvalidInput):
        validate_layer(["A", "B"], ["a", "b", "c"], geoms)
    with pytest.raises(InvalidInput):
        validate_layer(["A", "B", "C"], ["a", "b"], geoms)
    with pytest.raises(InvalidInput):
        validate_layer([], [], np.array([], dtype=object))


@pytest.mark.parametrize(
    "bad",
    [
        None,
        shapely.Polygon(),
        shapely.Point(5, 5),
        shapely.LineString([(0, 0), (9, 9)]),
        shapely.GeometryCollection([shapely.Point(1, 1)]),
        shapely.Polygon([(0, 0), (10, 0), (20, 0), (0, 0)]),  # collapsed: nothing areal to keep
    ],
)
def test_unusable_geometries_are_rejected_by_code(bad: shapely.Geometry | None) -> None:
    geoms = np.array([shapely.box(0, 0, 1, 1), bad], dtype=object)
    with pytest.raises(InvalidGeometry, match="E05000099"):
        validate_layer(["E05000001", "E05000099"], ["ok", "bad"], geoms)


def test_ensure_bng_passes_27700_through_and_refuses_unknown_crs(shared_data: Path) -> None:
    frame = layer(shared_data, "surrey_districts")
    geoms = frame.geometry.values
    assert shapely.equals_exact(ensure_bng(geoms, "EPSG:27700"), geoms, tolerance=0).all()
    assert shapely.equals_exact(ensure_bng(geoms, frame.crs), geoms, tolerance=0).all()
    for bad in (None, "EPSG:999999", "not a crs"):
        with pytest.raises(CRSMismatch):
            ensure_bng(geoms, bad)


def test_ensure_bng_from_osgb36_lon_lat_matches_geopandas(shared_data: Path) -> None:
    frame = layer(shared_data, "surrey_districts")
    lonlat = frame.to_crs(4277)  # OSGB36 geographic: the grid is a pure projection of it
    back = ensure_bng(lonlat.geometry.values, "EPSG:4277")
    np.testing.assert_allclose(
        shapely.get_coordinates(back), shapely.get_coordinates(frame.geometry.values), atol=1e-6
    )


def test_ensure_bng_uses_the_injected_ostn15_transform(shared_data: Path) -> None:
    frame = layer(shared_data, "surrey_districts")
    grid = shared_data / "proj" / "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"
    ostn15 = pyproj.Transformer.from_pipeline(PIPELINE.format(grid=grid))

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(ostn15.transform(xy[:, 0], xy[:, 1], direction="INVERSE"))

    lonlat = shapely.transform(frame.geometry.values, to_lonlat)
    calls = []

    def to_bng(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(lon.size)
        return ostn15.transform(lon, lat)

    back = ensure_bng(lonlat, "EPSG:4326", to_bng=to_bng)
    assert calls and sum(calls) == shapely.get_num_coordinates(lonlat).sum()
    np.testing.assert_allclose(
        shapely.get_coordinates(back), shapely.get_coordinates(frame.geometry.values), atol=1e-3
    )
    with pytest.raises(OutsideGridExtent):
        ensure_bng(lonlat, "EPSG:4326", to_bng=lambda x, y: (x * np.inf, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        grid_installed = TransformerGroup(4326, 27700, always_xy=True).best_available
    if grid_installed:
        moved = ensure_bng(lonlat, "EPSG:4326")
        np.testing.assert_allclose(
            shapely.get_coordinates(moved), shapely.get_coordinates(back), atol=1e-3
        )
    else:  # without the OSTN15 grid pyproj would fall back to a Helmert: metres out
        with pytest.raises(GridFileMissing):
            ensure_bng(lonlat, "EPSG:4326")


LOCAL_CS = (
    'LOCAL_CS["Bogus local grid",LOCAL_DATUM["Bogus datum",32767],UNIT["metre",1],'
    'AXIS["X",EAST],AXIS["Y",NORTH]]'
)


def test_ensure_bng_refuses_crs_it_cannot_relate_to_the_grid(shared_data: Path) -> None:
    geoms = layer(shared_data, "surrey_districts").geometry.values
    with pytest.raises(CRSMismatch, match="unsupported CRS 'Bogus local grid'"):
        ensure_bng(geoms, LOCAL_CS)


def test_ensure_bng_refuses_lon_lat_beyond_their_range(shared_data: Path) -> None:
    bng = layer(shared_data, "surrey_districts").geometry.values
    # BNG metres labelled as WGS84 (GDAL's reading of an unknown GeoJSON crs): x is 480,500+.
    with pytest.raises(OutsideGridExtent, match=r"±180/±90.*British National Grid metres"):
        ensure_bng(bng, "EPSG:4326", to_bng=lambda x, y: (x, y))
    with pytest.raises(OutsideGridExtent, match=r"±180/±90; found x -500..500, y -500..500\)$"):
        ensure_bng([shapely.box(-500, -500, 500, 500)], "EPSG:4326")


def test_ensure_bng_refuses_layers_outside_great_britain() -> None:
    # OSGB36 lon/lat reproject by a pure projection: Lagos (3.4 E, 6.5 N) lands 4,800 km south.
    far = [shapely.box(3.3, 6.4, 3.5, 6.6)]
    expected = pyproj.Transformer.from_crs(4277, 27700, always_xy=True).transform(3.3, 6.4)
    assert expected[1] < -4_000_000  # independently: far south of the grid's origin
    with pytest.raises(OutsideGridExtent, match="outside Great Britain"):
        ensure_bng(far, "EPSG:4277")
    # A transformation that cannot take the points (OSTN15 gives NaN off its grid).
    with pytest.raises(OutsideGridExtent, match="outside the extent of the transformation"):
        ensure_bng(far, "EPSG:4326", to_bng=lambda x, y: (x * np.nan, y))
    with pytest.raises(OutsideGridExtent, match="outside Great Britain"):
        ensure_bng([shapely.box(-10, -10, 10, 10)], "EPSG:27700")


def test_gaps_include_the_uncovered_part_of_a_given_coverage() -> None:
    # Worked by hand: A and B tile [0, 200) x [0, 100); the set covered [0, 300) x [0, 100).
    geoms = [shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)]
    assert validate_layer(["A", "B"], ["a", "b"], geoms).report.gaps == []
    coverage = shapely.box(0, 0, 300, 100)
    gaps = validate_layer(["A", "B"], ["a", "b"], geoms, coverage=coverage).report.gaps
    assert len(gaps) == 1 and gaps[0][0] == pytest.approx(10_000.0)
    assert 200 < gaps[0][1] < 300
    # A 2 m strip along the outline (200 m²) is a generalisation sliver, not a gap.
    sliver = shapely.box(0, 0, 200, 102)
    assert validate_layer(["A", "B"], ["a", "b"], geoms, coverage=sliver).report.gaps == []
