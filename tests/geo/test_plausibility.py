"""Plausibility screens on hand-placed points and real data, distances against GEOS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geo.errors import InvalidGeometry, InvalidInput
from geo.plausibility import (
    LocationIssue,
    check_bng,
    check_lonlat,
    distance_to_area_m,
    swap_lonlat,
)

OK, ZERO, SWAPPED, OUTSIDE, NAN = (
    LocationIssue.OK,
    LocationIssue.ZERO,
    LocationIssue.SWAPPED_LONLAT,
    LocationIssue.OUTSIDE_GB,
    LocationIssue.NOT_A_NUMBER,
)


@pytest.mark.parametrize(
    ("lon", "lat", "issue"),
    [
        (-0.58, 51.24, OK),  # Guildford
        (-6.32, 49.91, OK),  # St Mary's, Isles of Scilly
        (-8.57, 57.81, OK),  # Hirta, St Kilda
        (-1.15, 60.15, OK),  # Lerwick, Shetland
        (-0.77, 60.80, OK),  # Muckle Flugga, Shetland
        (-4.48, 54.15, OK),  # Douglas, Isle of Man
        (1.75, 52.48, OK),  # Lowestoft Ness
        (1.32, 51.12, OK),  # Dover
        (-5.67, 51.72, OK),  # The Smalls, Pembrokeshire
        (51.2, -0.4, SWAPPED),
        (60.15, -1.15, SWAPPED),
        (0.0, 0.0, ZERO),
        (np.nan, 51.2, NAN),
        (-0.58, np.inf, NAN),
        (-6.26, 53.35, OUTSIDE),  # Dublin
        (1.85, 50.95, OUTSIDE),  # Calais
        (2.35, 48.86, OUTSIDE),  # Paris
        (-2.13, 49.21, OUTSIDE),  # Jersey: not Great Britain
        (-0.58, 0.0, OUTSIDE),
        (181.0, 51.0, OUTSIDE),
    ],
)
def test_check_lonlat_examples(lon: float, lat: float, issue: LocationIssue) -> None:
    assert check_lonlat(np.array([lon]), np.array([lat])).tolist() == [issue]


def test_check_lonlat_shape_and_type() -> None:
    issues = check_lonlat(np.zeros((2, 3)), np.zeros((2, 3)))
    assert issues.dtype == np.int8
    assert issues.shape == (2, 3)
    assert (issues == ZERO).all()
    with pytest.raises(InvalidInput):
        check_lonlat(np.zeros(2), np.zeros(3))
    with pytest.raises(InvalidInput):
        check_lonlat(["a"], ["b"])


def test_real_surrey_points_are_plausible_and_their_swaps_are_detected(shared_data: Path) -> None:
    crime = pd.read_csv(
        shared_data / "crime" / "surrey" / "2022-06-surrey-street.csv",
        usecols=["Longitude", "Latitude"],
    ).dropna()
    nspl = pd.read_csv(shared_data / "postcodes" / "surrey_nspl_may2025_latlon.csv")
    lon = np.concatenate([crime["Longitude"].to_numpy(), nspl["lon"].to_numpy()])
    lat = np.concatenate([crime["Latitude"].to_numpy(), nspl["lat"].to_numpy()])
    assert lon.size > 50_000
    assert (check_lonlat(lon, lat) == OK).all()
    assert (check_lonlat(*swap_lonlat(lon, lat)) == SWAPPED).all()
    codepoint = pd.read_csv(shared_data / "postcodes" / "surrey_codepoint_open_2014.csv")
    assert (check_bng(codepoint["easting"], codepoint["northing"]) == OK).all()


@pytest.mark.parametrize(
    ("easting", "northing", "issue"),
    [
        (499417.0, 149731.0, OK),
        (0.0, 0.0, ZERO),
        (0.0, 5.0, OK),
        (np.nan, 5.0, NAN),
        (5.0, -np.inf, NAN),
        (-1.0, 5.0, OUTSIDE),
        (700_000.0, 5.0, OUTSIDE),
        (699_999.9, 1_299_999.9, OK),
        (5.0, 1_300_000.0, OUTSIDE),
        (51.2, -0.4, OUTSIDE),
    ],
)
def test_check_bng_examples(easting: float, northing: float, issue: LocationIssue) -> None:
    assert check_bng([easting], [northing]).tolist() == [issue]


@given(
    arrays(np.float64, 10, elements=st.floats(-8.5, 1.7)),
    arrays(np.float64, 10, elements=st.floats(52.0, 60.5)),
)
def test_swap_is_an_involution_and_detected(lon: np.ndarray, lat: np.ndarray) -> None:
    swapped_lon, swapped_lat = swap_lonlat(lon, lat)
    assert np.array_equal(swapped_lon, lat)
    assert np.array_equal(swapped_lat, lon)
    assert np.array_equal(swap_lonlat(swapped_lon, swapped_lat)[0], lon)
    plausible = check_lonlat(lon, lat) == OK
    assert (check_lonlat(swapped_lon, swapped_lat)[plausible] == SWAPPED).all()


# --- distance to the partnership area ---------------------------------------------------------


@pytest.fixture(scope="module")
def surrey(shared_data: Path) -> shapely.Geometry:
    districts = pyogrio.read_dataframe(shared_data / "boundaries" / "surrey_districts.gpkg")
    return shapely.union_all(districts.geometry.to_numpy())


def test_distance_matches_geos_on_surrey(surrey: shapely.Geometry) -> None:
    rng = np.random.default_rng(7)
    x_min, y_min, x_max, y_max = shapely.bounds(surrey)
    easting = rng.uniform(x_min - 30_000, x_max + 30_000, 20_000)
    northing = rng.uniform(y_min - 30_000, y_max + 30_000, 20_000)
    distance = distance_to_area_m(easting, northing, surrey)
    reference = shapely.distance(surrey, shapely.points(easting, northing))
    assert np.allclose(distance, reference, rtol=0, atol=1e-6)
    inside = shapely.contains_xy(surrey, easting, northing)
    assert 0 < inside.sum() < inside.size
    assert (distance[inside] == 0).all()
    assert (distance[~inside] > 0).all()


def test_distance_edge_cases() -> None:
    square = shapely.box(0, 0, 100, 100)
    holed = shapely.Polygon(
        [(0, 0), (100, 0), (100, 100), (0, 100)], holes=[[(40, 40), (60, 40), (60, 60), (40, 60)]]
    )
    two = shapely.MultiPolygon([square, shapely.box(300, 0, 400, 100)])
    distance = distance_to_area_m([50, 100, 150, 130, np.nan], [50, 100, 50, 140, 1], square)
    assert distance[:4].tolist() == [0.0, 0.0, 50.0, 50.0]
    assert np.isnan(distance[4])
    assert distance_to_area_m([50, 45], [50, 50], holed).tolist() == [10.0, 5.0]
    assert distance_to_area_m([200, 250, 500], [50, 50, 50], two).tolist() == [100.0, 50.0, 100.0]
    assert distance_to_area_m([], [], square).shape == (0,)


@pytest.mark.parametrize(
    "area",
    [
        shapely.Polygon(),
        shapely.Point(0, 0),
        shapely.LineString([(0, 0), (1, 1)]),
        shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),  # bow tie: invalid
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
    ],
)
def test_distance_refuses_unusable_areas(area: object) -> None:
    with pytest.raises(InvalidGeometry):
        distance_to_area_m([1.0], [1.0], area)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, 30, elements=st.floats(-500, 500)),
    arrays(np.float64, 30, elements=st.floats(-500, 500)),
    st.floats(1, 200),
)
def test_distance_agrees_with_geos(x: np.ndarray, y: np.ndarray, radius: float) -> None:
    area = shapely.Point(17, -23).buffer(radius, quad_segs=5)
    assert np.allclose(
        distance_to_area_m(x, y, area), shapely.distance(area, shapely.points(x, y)), atol=1e-9
    )
