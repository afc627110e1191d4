"""Is a location believable? Zero, swapped, outside Great Britain, or too far from the area.

Great Britain for lon/lat means the box lon -8.8..2.0, lat 49.8..60.95 (GB with the Isle of Man,
Scilly, St Kilda and Shetland; WGS84/ETRS89 degrees), less two boxes inside it that hold no part of
GB: most of Ireland (lon -8.8..-5.9, lat 51.3..55.45) and the French coast from Calais to the Somme
(lon 1.1..2.0, lat 49.8..51.05). It is a coarse screen for gross errors; the finer test is the
distance to the partnership's own area (:func:`distance_to_area_m`), which callers compare with
their limit to report ``BEYOND_DISTANCE``.
"""

from __future__ import annotations

import enum

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.errors import InvalidGeometry, InvalidInput

__all__ = [
    "GB_LONLAT_ENVELOPE",
    "LocationIssue",
    "check_bng",
    "check_lonlat",
    "distance_to_area_m",
    "swap_lonlat",
]

#: (lon_min, lat_min, lon_max, lat_max) in degrees of the lon/lat screen.
GB_LONLAT_ENVELOPE = (-8.8, 49.8, 2.0, 60.95)
_NOT_GB = ((-8.8, 51.3, -5.9, 55.45), (1.1, 49.8, 2.0, 51.05))
#: The National Grid, EPSG:27700 metres: 0-700 km east, 0-1300 km north.
_GRID_EXTENT_M = (0.0, 0.0, 700_000.0, 1_300_000.0)


class LocationIssue(enum.IntEnum):
    """Why a location is not believable (stored as int8 per row)."""

    OK = 0
    ZERO = 1  # (0, 0): a blank written as zeros
    SWAPPED_LONLAT = 2  # implausible as given, plausible with lon and lat exchanged
    OUTSIDE_GB = 3
    BEYOND_DISTANCE = 4  # further from the partnership area than the caller allows
    NOT_A_NUMBER = 5  # NaN or infinite


def _pair(first: ArrayLike, second: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    try:
        a = np.asarray(first, dtype=np.float64)
        b = np.asarray(second, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"coordinates must be numbers: {exc}") from exc
    if a.shape != b.shape:
        raise InvalidInput(f"coordinate arrays differ in shape: {a.shape} vs {b.shape}")
    return a, b


def _in_box(
    x: NDArray[np.float64], y: NDArray[np.float64], box: tuple[float, float, float, float]
) -> NDArray[np.bool_]:
    inside: NDArray[np.bool_] = (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
    return inside


def _in_gb(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    inside = _in_box(lon, lat, GB_LONLAT_ENVELOPE)
    for box in _NOT_GB:
        inside &= ~_in_box(lon, lat, box)
    return inside


def _classify(
    x: NDArray[np.float64], y: NDArray[np.float64], inside: NDArray[np.bool_]
) -> NDArray[np.int8]:
    issues = np.where(inside, LocationIssue.OK, LocationIssue.OUTSIDE_GB).astype(np.int8)
    issues[(x == 0) & (y == 0)] = LocationIssue.ZERO
    issues[~(np.isfinite(x) & np.isfinite(y))] = LocationIssue.NOT_A_NUMBER
    return issues


def check_lonlat(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int8]:
    """Screen WGS84/ETRS89 lon/lat pairs (degrees).

    Returns
    -------
    numpy.ndarray of int8
        A :class:`LocationIssue` per row: NOT_A_NUMBER (NaN or infinite), ZERO for (0, 0),
        SWAPPED_LONLAT when the pair is outside Great Britain as given but inside with lon and
        lat exchanged, OUTSIDE_GB, else OK (see the module notes for the area used).

    Raises
    ------
    InvalidInput
        ``lon`` and ``lat`` are not numeric or differ in shape.
    """
    x, y = _pair(lon, lat)
    inside = _in_gb(x, y)
    issues = _classify(x, y, inside)
    issues[(issues == LocationIssue.OUTSIDE_GB) & _in_gb(y, x)] = LocationIssue.SWAPPED_LONLAT
    return issues


def check_bng(easting: ArrayLike, northing: ArrayLike) -> NDArray[np.int8]:
    """Screen British National Grid coordinates (EPSG:27700 metres).

    Returns
    -------
    numpy.ndarray of int8
        A :class:`LocationIssue` per row: NOT_A_NUMBER, ZERO for (0, 0), OUTSIDE_GB outside the
        National Grid (0 ≤ easting < 700 km, 0 ≤ northing < 1300 km), else OK.

    Raises
    ------
    InvalidInput
        The arrays are not numeric or differ in shape.
    """
    x, y = _pair(easting, northing)
    x_min, y_min, x_max, y_max = _GRID_EXTENT_M
    inside = (x >= x_min) & (x < x_max) & (y >= y_min) & (y < y_max)
    return _classify(x, y, inside)


def swap_lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exchange the two coordinates: returns (new_lon, new_lat) = (lat, lon), as float64 copies.

    Raises
    ------
    InvalidInput
        The arrays are not numeric or differ in shape.
    """
    x, y = _pair(lon, lat)
    return y.copy(), x.copy()


class AreaDistance:
    """Distances to one area, with its validation and edge index built once.

    Points are tested against the prepared area first; only those outside are measured, to the
    nearest edge through an R-tree of the boundary segments (so the cost does not grow with the
    area's vertex count). The area and the points are EPSG:27700.

    Raises
    ------
    InvalidGeometry
        ``area`` is empty, not polygonal or invalid.
    """

    def __init__(self, area: shapely.Geometry) -> None:
        _check_area(area)
        shapely.prepare(area)
        self.area = area
        self._tree: shapely.STRtree | None = None

    def __call__(self, easting: ArrayLike, northing: ArrayLike) -> NDArray[np.float64]:
        """Metres from each point to the area: 0 inside or on its boundary, NaN for NaN input.

        Raises
        ------
        InvalidInput
            The coordinate arrays are not numeric or differ in shape.
        """
        x, y = _pair(easting, northing)
        finite = np.isfinite(x) & np.isfinite(y)
        outside = finite & ~shapely.intersects_xy(self.area, x, y)
        distance = np.where(finite, 0.0, np.nan)
        if outside.any():
            if self._tree is None:
                self._tree = shapely.STRtree(_boundary_segments(self.area))
            points = shapely.points(x[outside], y[outside])
            (rows, _), nearest_m = self._tree.query_nearest(
                points, return_distance=True, all_matches=False
            )
            measured = np.empty(int(outside.sum()), dtype=np.float64)
            measured[rows] = nearest_m
            distance[outside] = measured
        return distance


def distance_to_area_m(
    easting: ArrayLike, northing: ArrayLike, area: shapely.Geometry
) -> NDArray[np.float64]:
    """Distance in metres from each point to an area: 0 inside or on its boundary.

    A one-off :class:`AreaDistance` (build one and reuse it for many calls on the same area).
    Both the points and ``area`` are EPSG:27700; NaN rows give NaN.

    Raises
    ------
    InvalidGeometry
        ``area`` is empty, not polygonal or invalid.
    InvalidInput
        The coordinate arrays are not numeric or differ in shape.
    """
    return AreaDistance(area)(easting, northing)


def _check_area(area: object) -> None:
    if not isinstance(area, shapely.Geometry):
        raise InvalidGeometry(f"area must be a shapely geometry, not {type(area).__name__}")
    if shapely.is_empty(area) or shapely.get_type_id(area) not in (3, 6):  # Polygon, MultiPolygon
        wkt = shapely.to_wkt(area, rounding_precision=1)
        raise InvalidGeometry(f"area must be a non-empty (Multi)Polygon, not {wkt[:60]}")
    if not shapely.is_valid(area):
        raise InvalidGeometry(f"area is not valid: {shapely.is_valid_reason(area)}")


def _boundary_segments(area: shapely.Geometry) -> NDArray[np.object_]:
    """Every edge of every ring of ``area`` as a two-point LineString."""
    rings = shapely.get_rings(shapely.get_parts(area))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring[1:] == ring[:-1]
    ends = np.stack([coords[:-1][same_ring], coords[1:][same_ring]], axis=1)
    return np.asarray(shapely.linestrings(ends), dtype=object)
