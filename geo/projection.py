"""ETRS89 (≈ WGS84) lon/lat ⇄ OSGB36 British National Grid (EPSG:27700) through OSTN15.

The method is PROJ's pipeline ``+inv +proj=hgridshift +grids=<OSTN15 GeoTIFF>`` followed by
``+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy``, written
in numpy so that a million points take a fraction of a second:

* the grid shift is PROJ-data's GeoTIFF of OS's NTv2 OSTN15 grid (OSGB36 → ETRS89 shifts in
  arc-seconds at 1' × 0.5' nodes, indexed by OSGB36 lon/lat), interpolated bilinearly as PROJ does;
  ETRS89 → OSGB36 inverts it by fixed-point iteration;
* the Transverse Mercator is Krüger's series in the third flattening (Karney 2011, 6th order),
  accurate to nanometres in Great Britain.

Partner files give WGS84 lon/lat (police.uk, phones, GPS); we treat them as ETRS89. The two
coincided in 1989 and drift apart by about 2.5 cm a year with the Eurasian plate, so they differ by
well under 1 m for these data: far below the accuracy of an incident location (police.uk snaps
points to map features), and the convention OS gives for this use (OSTN15 starts from ETRS89;
sub-metre WGS84 work takes WGS84 = ETRS89).

There is never a Helmert fallback: without the grid there is no answer (:class:`GridFileMissing`),
and points outside the grid give NaN.

The grid file is read by :mod:`geo.ntv2` and the Transverse Mercator is :mod:`geo.tmerc`; this
module puts them together (grid shift, its inverse, chunking) behind :class:`OSTN15`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GridFileMissing, InvalidInput
from geo.ntv2 import HEIGHT, RES_LAT_DEG, RES_LON_DEG, SOUTH_DEG, WEST_DEG, WIDTH, load_shift_table
from geo.tmerc import BNG_TMERC
from geo.tmerc import tm_forward as _tm_forward
from geo.tmerc import tm_inverse as _tm_inverse

if TYPE_CHECKING:
    import pyproj

# _tm_forward and _tm_inverse are kept importable from here: tests/geo/test_projection.py checks
# the series against a 40-digit reference through these names.
__all__ = ["BNG_TMERC", "OSTN15", "_tm_forward", "_tm_inverse", "pyproj_reference"]

FloatArray = NDArray[np.float64]

_TOL_DEG = 1e-12
_MAX_ITER = 10
# Work in slices that keep every temporary in the CPU cache (several times faster than whole
# arrays of a million points).
_CHUNK = 1 << 15


class OSTN15:
    """The OSTN15 transformation between ETRS89 (≈ WGS84) lon/lat and the OSGB36 National Grid.

    Build it with :meth:`OSTN15.load`. It holds the grid as float64 bilinear coefficients (61 MB),
    is immutable and safe to share between threads.
    """

    def __init__(self, table: FloatArray) -> None:
        self._table = table

    @classmethod
    def load(cls, grid_path: Path) -> OSTN15:
        """Read PROJ-data's ``uk_os_OSTN15_NTv2_OSGBtoETRS.tif``.

        Parameters
        ----------
        grid_path : pathlib.Path
            The GeoTIFF (661 × 1441 nodes, lon -9..2, lat 49..61; OSGB36 → ETRS89 shifts).

        Raises
        ------
        GridFileMissing
            The file is missing, unreadable, corrupt or not the OSTN15 grid. There is no fallback
            to a Helmert transformation.
        """
        return cls(load_shift_table(grid_path))

    def to_bng(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """ETRS89 (≈ WGS84) lon/lat in degrees → OSGB36 easting/northing in metres (EPSG:27700).

        Returns float64 arrays of the input's shape, NaN where the input is NaN, lies outside the
        grid (lon -9..2, lat 49..61) or the inverse shift fails to converge.

        Raises
        ------
        InvalidInput
            ``lon`` and ``lat`` are not numeric or differ in shape.
        """
        return _map(self._to_bng_chunk, lon, lat)

    def to_lonlat(self, easting: ArrayLike, northing: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """OSGB36 easting/northing in metres (EPSG:27700) → ETRS89 lon/lat in degrees.

        Returns float64 arrays of the input's shape, NaN where the input is NaN or its OSGB36
        lon/lat falls outside the grid.

        Raises
        ------
        InvalidInput
            ``easting`` and ``northing`` are not numeric or differ in shape.
        """
        return _map(self._to_lonlat_chunk, easting, northing)

    def _shift(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Bilinear (Δlon, Δlat) in degrees at OSGB36 lon/lat (meaningless outside the grid)."""
        fx = lon - WEST_DEG
        fx *= 1.0 / RES_LON_DEG
        fy = lat - SOUTH_DEG
        fy *= 1.0 / RES_LAT_DEG
        # fmax/fmin also map NaN to a valid cell (no cast warning); those rows stay NaN.
        ix = np.fmin(np.fmax(fx, 0.0), WIDTH - 2).astype(np.intp)
        cell = np.fmin(np.fmax(fy, 0.0), HEIGHT - 2).astype(np.intp)
        fx -= ix
        fy -= cell
        cell *= WIDTH - 1
        cell += ix
        coef = np.take(self._table, cell, axis=0)  # much faster than fancy indexing
        return _bilinear(coef[:, 4:], fx, fy), _bilinear(coef[:, :4], fx, fy)

    def _to_bng_chunk(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        # ETRS89 = OSGB36 + shift(OSGB36): solve for OSGB36 by fixed-point iteration from
        # q - shift(q), as PROJ's inverse hgridshift does (at most 10 corrections).
        dlon, dlat = self._shift(lon, lat)
        plon = lon - dlon
        plat = lat - dlat
        err2 = np.zeros_like(lon)
        for _ in range(_MAX_ITER):
            dlon, dlat = self._shift(plon, plat)
            dlon += plon - lon
            dlat += plat - lat
            plon -= dlon
            plat -= dlat
            np.multiply(dlon, dlon, out=err2)
            err2 += dlat * dlat
            if not (err2 > _TOL_DEG**2).any():
                break
        easting, northing = _tm_forward(plon, plat)
        bad = ~_inside_grid(lon, lat)
        bad |= err2 > _TOL_DEG**2
        easting[bad] = np.nan
        northing[bad] = np.nan
        return easting, northing

    def _to_lonlat_chunk(
        self, easting: FloatArray, northing: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        plon, plat = _tm_inverse(easting, northing)
        lon, lat = self._shift(plon, plat)
        lon += plon
        lat += plat
        bad = ~_inside_grid(plon, plat)
        lon[bad] = np.nan
        lat[bad] = np.nan
        return lon, lat


def _map(func: Any, first: ArrayLike, second: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Apply a chunk transformation over two coordinate arrays in cache-sized slices."""
    try:
        a = np.asarray(first, dtype=np.float64)
        b = np.asarray(second, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"coordinates must be numbers: {exc}") from exc
    if a.shape != b.shape:
        raise InvalidInput(f"coordinate arrays differ in shape: {a.shape} vs {b.shape}")
    a_flat, b_flat = a.ravel(), b.ravel()
    out_a = np.empty(a_flat.shape, dtype=np.float64)
    out_b = np.empty(a_flat.shape, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # NaN/inf input rows become NaN, as documented
        for start in range(0, a_flat.size, _CHUNK):
            part = slice(start, start + _CHUNK)
            out_a[part], out_b[part] = func(a_flat[part], b_flat[part])
    return out_a.reshape(a.shape), out_b.reshape(a.shape)


def _inside_grid(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    """Within the grid's node extent (edges included); False for NaN."""
    inside = lon >= WEST_DEG
    inside &= lon <= WEST_DEG + (WIDTH - 1) * RES_LON_DEG
    inside &= lat >= SOUTH_DEG
    inside &= lat <= SOUTH_DEG + (HEIGHT - 1) * RES_LAT_DEG
    return inside


def _bilinear(coef: FloatArray, fx: FloatArray, fy: FloatArray) -> FloatArray:
    """a + b·fx + fy·(c + d·fx) with (a, b, c, d) the columns of ``coef``."""
    out = coef[:, 3] * fx
    out += coef[:, 2]
    out *= fy
    out += coef[:, 0]
    out += coef[:, 1] * fx
    return out


def pyproj_reference(grid_path: Path) -> pyproj.Transformer:
    """The same transformation in PROJ (lon/lat degrees → E/N metres), for tests and benchmarks.

    An explicit pipeline naming the grid file, so PROJ cannot choose another operation (no
    Helmert fallback, no network grid). ``transform(lon, lat)`` gives (easting, northing),
    ``transform(e, n, direction="INVERSE")`` the reverse; outside the grid PROJ returns ``inf``.

    Raises
    ------
    GridFileMissing
        The grid file does not exist or PROJ cannot use it.
    """
    import pyproj  # noqa: PLC0415 - only tests and benchmarks need PROJ itself

    path = Path(grid_path).resolve()
    if not path.is_file():
        raise GridFileMissing(f"OSTN15 grid {path} does not exist")
    pipeline = (
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f'+step +inv +proj=hgridshift +grids="{path}" +step {BNG_TMERC}'
    )
    try:
        return pyproj.Transformer.from_pipeline(pipeline)
    except pyproj.exceptions.ProjError as exc:
        raise GridFileMissing(f"PROJ cannot use the OSTN15 grid {path}: {exc}") from exc
