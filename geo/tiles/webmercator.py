"""Web Mercator (EPSG:3857) tile arithmetic for XYZ tiles (``y`` counted down from the north).

Spherical Mercator on the WGS84 semi-major axis, as EPSG:3857 defines it: ``x = R·λ``,
``y = R·ln tan(π/4 + φ/2)`` with ``R = 6 378 137 m``. Tile ``(z, x, y)`` is one of ``2**z`` by
``2**z`` squares covering ``±20 037 508.342789244 m``. Geometries are stored in EPSG:27700 and
reach Web Mercator through lon/lat using the application's OSTN15 transform, which is injected
(``to_lonlat``) so that this module never loads a grid file itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.errors import InvalidInput

#: WGS84 semi-major axis (metres), the sphere radius of EPSG:3857.
EARTH_RADIUS_M = 6378137.0
#: Half the width of the Web Mercator square (metres): pi * R.
ORIGIN_SHIFT_M = math.pi * EARTH_RADIUS_M
#: Latitude (degrees) at which the Mercator square ends: 2*atan(e^pi) - pi/2.
MAX_LATITUDE = math.degrees(2.0 * math.atan(math.exp(math.pi)) - math.pi / 2.0)
#: Default deepest zoom served.
MAX_ZOOM = 22
#: Deepest zoom any function here accepts (tile sizes are then ~4 cm).
ABSOLUTE_MAX_ZOOM = 30

FloatArray = NDArray[np.float64]
ToLonLat = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]
# Nudges the east/south edges inwards so a bbox ending exactly on a tile edge does not pull in
# the next tile (the same rule as mercantile.tiles).
_LL_EPSILON = 1e-11


def validate_tile(z: int, x: int, y: int, max_zoom: int = MAX_ZOOM) -> None:
    """Check that ``(z, x, y)`` names an existing XYZ tile.

    Parameters
    ----------
    z, x, y : int
        Zoom (0..``max_zoom``) and column/row (0..2**z - 1).
    max_zoom : int, default 22
        Deepest zoom accepted.

    Raises
    ------
    InvalidInput
        A coordinate is not an integer or is out of range.
    """
    for name, value in (("z", z), ("x", x), ("y", y), ("max_zoom", max_zoom)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidInput(f"tile {name} must be an integer, not {value!r}")
    if not 0 <= z <= max_zoom:
        raise InvalidInput(f"zoom {z} is outside 0..{max_zoom}")
    side = 1 << int(z)
    if not (0 <= x < side and 0 <= y < side):
        raise InvalidInput(f"tile {z}/{x}/{y} does not exist: x and y must be in 0..{side - 1}")


def tile_size_m(z: int) -> float:
    """Width (= height) of one tile at zoom ``z`` in EPSG:3857 metres."""
    return 2.0 * ORIGIN_SHIFT_M / (1 << int(z))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Bounds of tile ``z/x/y`` in EPSG:3857 metres.

    Parameters
    ----------
    z, x, y : int
        XYZ tile address (``y`` counted down from the north edge).

    Returns
    -------
    tuple of float
        ``(min_x, min_y, max_x, max_y)`` in metres.

    Raises
    ------
    InvalidInput
        The tile does not exist (see :func:`validate_tile`; zooms up to 30 are accepted).
    """
    validate_tile(z, x, y, max_zoom=ABSOLUTE_MAX_ZOOM)
    size = tile_size_m(z)
    min_x = -ORIGIN_SHIFT_M + int(x) * size
    max_y = ORIGIN_SHIFT_M - int(y) * size
    return min_x, max_y - size, min_x + size, max_y


def lonlat_to_mercator(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Project WGS84/ETRS89 degrees to EPSG:3857 metres.

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude in degrees. Latitudes beyond ±85.0511° are clamped to the edge of
        the Mercator square (the pole is at infinity); NaN stays NaN.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` in metres.
    """
    lon_deg = np.asarray(lon, dtype=np.float64)
    lat_rad = np.radians(np.clip(np.asarray(lat, dtype=np.float64), -MAX_LATITUDE, MAX_LATITUDE))
    x = EARTH_RADIUS_M * np.radians(lon_deg)
    y = EARTH_RADIUS_M * np.log(np.tan(np.pi / 4.0 + lat_rad / 2.0))
    return x, y


def mercator_to_lonlat(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Unproject EPSG:3857 metres to WGS84 degrees.

    Parameters
    ----------
    x, y : array_like
        Web Mercator coordinates in metres.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in degrees.
    """
    x_m = np.asarray(x, dtype=np.float64)
    y_m = np.asarray(y, dtype=np.float64)
    lon = np.degrees(x_m / EARTH_RADIUS_M)
    lat = np.degrees(2.0 * np.arctan(np.exp(y_m / EARTH_RADIUS_M)) - np.pi / 2.0)
    return lon, lat


def to_mercator(geometries: np.ndarray, to_lonlat: ToLonLat) -> np.ndarray:
    """Reproject EPSG:27700 geometries to EPSG:3857 through lon/lat.

    Parameters
    ----------
    geometries : numpy.ndarray
        Shapely geometries in EPSG:27700 (metres); None stays None.
    to_lonlat : callable
        The application's OSTN15 transform ``to_lonlat(easting, northing) -> (lon, lat)`` on
        numpy arrays (degrees out).

    Returns
    -------
    numpy.ndarray
        2-D shapely geometries in EPSG:3857 metres, same shape.

    Raises
    ------
    InvalidInput
        ``to_lonlat`` returned arrays of the wrong shape.
    """

    def project(coords: FloatArray) -> FloatArray:
        lon, lat = to_lonlat(coords[:, 0], coords[:, 1])
        lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        if lon.shape != (coords.shape[0],) or lat.shape != (coords.shape[0],):
            raise InvalidInput("to_lonlat must return two arrays as long as its inputs")
        x, y = lonlat_to_mercator(lon, lat)
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(np.asarray(geometries, dtype=object), project))


def tiles_for_bounds(
    bounds_lonlat: tuple[float, float, float, float], z: int
) -> list[tuple[int, int, int]]:
    """XYZ tiles at zoom ``z`` that cover a lon/lat box.

    Parameters
    ----------
    bounds_lonlat : tuple of float
        ``(west, south, east, north)`` in degrees; ``west <= east`` (no antimeridian crossing).
        Latitudes beyond the Mercator square are clamped to it.
    z : int
        Zoom level, 0..22.

    Returns
    -------
    list of tuple of int
        ``(z, x, y)`` row by row from the north-west tile.

    Raises
    ------
    InvalidInput
        Malformed bounds or an invalid zoom.
    """
    validate_tile(z, 0, 0)
    west, south, east, north = (float(v) for v in bounds_lonlat)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InvalidInput("bounds must be finite numbers")
    if west > east or south > north or west < -180.0 or east > 180.0:
        raise InvalidInput(
            "bounds must be (west, south, east, north) with west <= east in -180..180"
        )
    side = 1 << int(z)
    lon = np.array([west, max(west, east - _LL_EPSILON)])
    lat = np.array([north, min(north, south + _LL_EPSILON)])
    merc_x, merc_y = lonlat_to_mercator(lon, lat)
    size = tile_size_m(z)
    cols = np.clip(np.floor((merc_x + ORIGIN_SHIFT_M) / size), 0, side - 1).astype(np.int64)
    rows = np.clip(np.floor((ORIGIN_SHIFT_M - merc_y) / size), 0, side - 1).astype(np.int64)
    grid_y, grid_x = np.mgrid[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1]
    return [
        (int(z), int(tx), int(ty)) for ty, tx in zip(grid_y.ravel(), grid_x.ravel(), strict=True)
    ]


def simplify_for_zoom(
    geometries_3857: np.ndarray, z: int, tolerance_px: float = 0.5, extent: int = 4096
) -> np.ndarray:
    """Simplify geometries for display at zoom ``z`` without breaking their validity.

    Parameters
    ----------
    geometries_3857 : numpy.ndarray
        Shapely geometries in EPSG:3857 metres.
    z : int
        Zoom level they will be shown at.
    tolerance_px : float, default 0.5
        Douglas–Peucker tolerance in tile units (``extent`` units per tile side).
    extent : int, default 4096
        Tile grid resolution the tolerance is measured on (the MVT extent).

    Returns
    -------
    numpy.ndarray
        Simplified geometries (GEOS topology-preserving simplifier, so polygons stay valid and
        keep their holes). A non-empty geometry that would simplify to empty is returned
        unchanged. Neighbouring areas are simplified independently, so shared edges can part by
        up to the tolerance.

    Raises
    ------
    InvalidInput
        Negative tolerance, non-positive extent or invalid zoom.
    """
    validate_tile(z, 0, 0)
    if not math.isfinite(tolerance_px) or tolerance_px < 0:
        raise InvalidInput(f"tolerance_px must be >= 0, not {tolerance_px!r}")
    if isinstance(extent, bool) or not isinstance(extent, int) or extent <= 0:
        raise InvalidInput(f"extent must be a positive integer, not {extent!r}")
    geometries = np.asarray(geometries_3857, dtype=object)
    tolerance_m = tolerance_px * tile_size_m(z) / extent
    simplified = shapely.simplify(geometries, tolerance_m, preserve_topology=True)
    emptied = shapely.is_empty(simplified) & ~shapely.is_empty(geometries)
    return np.asarray(np.where(emptied, geometries, simplified))


def in_bounds(geometries: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the geometries whose envelope meets ``bounds`` (same CRS; None never does).

    Parameters
    ----------
    geometries : numpy.ndarray
        Shapely geometries.
    bounds : tuple of float
        ``(min_x, min_y, max_x, max_y)``.

    Returns
    -------
    numpy.ndarray
        int64 indices, ascending.
    """
    envelope = shapely.bounds(np.asarray(geometries, dtype=object)).reshape(-1, 4)
    return np.flatnonzero(
        (envelope[:, 0] <= bounds[2])
        & (envelope[:, 2] >= bounds[0])
        & (envelope[:, 1] <= bounds[3])
        & (envelope[:, 3] >= bounds[1])
    )


def polygon_rings(
    geometries: np.ndarray,
) -> tuple[FloatArray, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Flatten the polygons of ``geometries`` into one coordinate array.

    Parameters
    ----------
    geometries : numpy.ndarray
        Shapely geometries; only their Polygon parts are used (clipping can leave stray lines).

    Returns
    -------
    coords : numpy.ndarray
        ``[n, 2]`` vertices, ring after ring, each ring closed.
    ring : numpy.ndarray
        Ring number of each vertex.
    ring_part : numpy.ndarray
        Polygon number of each ring; a polygon's exterior is its first ring.
    part_owner : numpy.ndarray
        Index into ``geometries`` of each polygon.
    """
    parts, part_owner = shapely.get_parts(np.asarray(geometries, dtype=object), return_index=True)
    polygon = shapely.get_type_id(parts) == 3
    rings, ring_part = shapely.get_rings(parts[polygon], return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    return coords, ring, ring_part, part_owner[polygon]


def to_tile_grid(
    coords_3857: FloatArray, z: int, x: int, y: int, extent: float
) -> tuple[FloatArray, FloatArray]:
    """Place EPSG:3857 points on a tile's own grid: 0..``extent`` west to east, y down from north.

    Parameters
    ----------
    coords_3857 : numpy.ndarray
        ``[n, 2]`` coordinates in metres.
    z, x, y : int
        XYZ tile address.
    extent : float
        Grid units per tile side (4096 for MVT, the image size in pixels for PNG).

    Returns
    -------
    tuple of numpy.ndarray
        Column and row coordinates (floats, not rounded).
    """
    min_x, _, _, max_y = tile_bounds(z, x, y)
    units_per_m = extent / tile_size_m(z)
    return (coords_3857[:, 0] - min_x) * units_per_m, (max_y - coords_3857[:, 1]) * units_per_m


def buffered_tile_bounds(
    z: int, x: int, y: int, margin: float, extent: float
) -> tuple[float, float, float, float]:
    """Tile bounds (EPSG:3857 metres) grown by ``margin`` grid units of a ``extent``-unit grid."""
    min_x, min_y, max_x, max_y = tile_bounds(z, x, y)
    margin_m = margin * tile_size_m(z) / extent
    return min_x - margin_m, min_y - margin_m, max_x + margin_m, max_y + margin_m
