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
"""

from __future__ import annotations

import math
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GridFileMissing, InvalidInput

if TYPE_CHECKING:
    import pyproj

__all__ = ["BNG_TMERC", "OSTN15", "pyproj_reference"]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: The OSGB36 National Grid projection, as PROJ spells it (``+ellps=airy``: b = 6356256.910 m).
BNG_TMERC = "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy"

# fmt: off
# Airy 1830 as in PROJ's +ellps=airy (OS quotes b = 6356256.909 m; the difference is < 0.05 mm).
_A_M, _B_M = 6377563.396, 6356256.910
_K0, _LON0_DEG, _LAT0_DEG, _X0_M, _Y0_M = 0.9996012717, -2.0, 49.0, 400000.0, -100000.0

# PROJ-data's uk_os_OSTN15_NTv2_OSGBtoETRS.tif: nodes every 1' of lon and 0.5' of lat from
# (-9°, 49°) to (2°, 61°). Tags: size, float32, deflate, 4 samples, planar 2, predictor 3,
# pixel scale and the north-west node (PixelIsPoint).
_WIDTH, _HEIGHT = 661, 1441
_WEST_DEG, _SOUTH_DEG, _RES_LON_DEG, _RES_LAT_DEG = -9.0, 49.0, 1.0 / 60.0, 1.0 / 120.0
_TIFF_EXPECT: dict[int, Any] = {
    256: _WIDTH, 257: _HEIGHT, 258: (32,) * 4, 259: 8, 277: 4, 284: 2, 317: 3, 339: (3,) * 4,
    33550: (_RES_LON_DEG, _RES_LAT_DEG, 0.0),
    33922: (0.0, 0.0, 0.0, _WEST_DEG, _SOUTH_DEG + (_HEIGHT - 1) * _RES_LAT_DEG, 0.0),
}
_BANDS = {("0", "description"): "latitude_offset", ("1", "description"): "longitude_offset",
          ("0", "unittype"): "arc-second", ("1", "unittype"): "arc-second"}
# fmt: on
_GDAL_ITEM = re.compile(r"<Item\b([^>]*)>([^<]*)</Item>")
_XML_ATTR = re.compile(r'(\w+)="([^"]*)"')
_TOL_DEG = 1e-12
_MAX_ITER = 10
# Newton on tan φ stops below √ε/10: the next step would change τ by less than ε.
_NEWTON_TOL = math.sqrt(np.finfo(np.float64).eps) / 10
# Work in slices that keep every temporary in the CPU cache (several times faster than whole
# arrays of a million points).
_CHUNK = 1 << 15


# Krüger series (Karney 2011, eq. 35-36): coefficients of n¹…n⁶ in α_k (forward) and β_k (inverse).
_ALPHA_N = (
    (1 / 2, -2 / 3, 5 / 16, 41 / 180, -127 / 288, 7891 / 37800),
    (0, 13 / 48, -3 / 5, 557 / 1440, 281 / 630, -1983433 / 1935360),
    (0, 0, 61 / 240, -103 / 140, 15061 / 26880, 167603 / 181440),
    (0, 0, 0, 49561 / 161280, -179 / 168, 6601661 / 7257600),
    (0, 0, 0, 0, 34729 / 80640, -3418889 / 1995840),
    (0, 0, 0, 0, 0, 212378941 / 319334400),
)
_BETA_N = (
    (1 / 2, -2 / 3, 37 / 96, -1 / 360, -81 / 512, 96199 / 604800),
    (0, 1 / 48, 1 / 15, -437 / 1440, 46 / 105, -1118711 / 3870720),
    (0, 0, 17 / 480, -37 / 840, -209 / 4480, 5569 / 90720),
    (0, 0, 0, 4397 / 161280, -11 / 504, -830251 / 7257600),
    (0, 0, 0, 0, 4583 / 161280, -108847 / 3991680),
    (0, 0, 0, 0, 0, 20648693 / 638668800),
)
_N = (_A_M - _B_M) / (_A_M + _B_M)
_E = math.sqrt(1 - (_B_M / _A_M) ** 2)
_ALPHA = [sum(c * _N ** (i + 1) for i, c in enumerate(row)) for row in _ALPHA_N]
_BETA = [sum(c * _N ** (i + 1) for i, c in enumerate(row)) for row in _BETA_N]
# k0 × rectifying radius: metres of grid per radian of ξ/η
_KA = _K0 * _A_M / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64 + _N**6 / 256)


def _krueger_sum(coeffs: list[float], tan_xi: FloatArray, sinh_eta: FloatArray) -> ComplexArray:
    """Σ_k coeffs[k-1]·sin(2kζ) for ζ = ξ + iη given tan ξ and sinh η (Clenshaw's recurrence).

    sin 2ζ and cos 2ζ come from rational identities rather than sin/cos/sinh/cosh: numpy's
    float64 sin and cos are several times slower than tan, and these are exact to rounding.
    """
    t2 = tan_xi * tan_xi
    sin2xi = 2.0 * tan_xi / (1.0 + t2)
    cos2xi = (1.0 - t2) / (1.0 + t2)
    s2 = sinh_eta * sinh_eta
    cosh2eta = 1.0 + 2.0 * s2
    sinh2eta = 2.0 * sinh_eta * np.sqrt(1.0 + s2)
    two_cos2z = np.empty(tan_xi.shape, dtype=np.complex128)
    two_cos2z.real = 2.0 * cos2xi * cosh2eta
    two_cos2z.imag = -2.0 * sin2xi * sinh2eta
    b2 = np.full_like(two_cos2z, coeffs[-1])
    b1 = two_cos2z * coeffs[-1]
    b1 += coeffs[-2]
    for c in reversed(coeffs[:-2]):
        b0 = two_cos2z * b1
        b0 -= b2
        b0 += c
        b1, b2 = b0, b1
    sin2z = two_cos2z  # reuse the buffer
    sin2z.real = sin2xi * cosh2eta
    sin2z.imag = cos2xi * sinh2eta
    b1 *= sin2z
    return b1


def _tm_forward(lon_deg: FloatArray, lat_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Airy 1830 lon/lat (degrees, OSGB36) → easting/northing (metres) of the National Grid.

    Valid for |lon + 2| < 90°; callers only pass points inside the OSTN15 grid.
    """
    # sin λ and cos λ from tan(λ/2): cheaper than sin and cos, exact to rounding.
    t_half = np.tan((lon_deg - _LON0_DEG) * (math.pi / 360.0))
    t2 = t_half * t_half
    inv = 1.0 / (1.0 + t2)
    sin_lam = 2.0 * t_half * inv
    cos_lam = (1.0 - t2) * inv
    tau = np.tan(lat_deg * (math.pi / 180.0))
    sec = np.sqrt(1.0 + tau * tau)
    sigma = np.sinh(_E * np.arctanh(_E * tau / sec))
    # tan of the conformal latitude (Karney 2011 eq. 7-9)
    tau_c = tau * np.sqrt(1.0 + sigma * sigma)
    tau_c -= sigma * sec
    tan_xi = tau_c / cos_lam
    sinh_eta = sin_lam / np.sqrt(tau_c * tau_c + cos_lam * cos_lam)
    zeta = np.empty(lon_deg.shape, dtype=np.complex128)
    zeta.real = np.arctan(tan_xi)
    zeta.imag = np.arcsinh(sinh_eta)
    zeta += _krueger_sum(_ALPHA, tan_xi, sinh_eta)
    easting = zeta.imag * _KA
    easting += _X0_M
    northing = zeta.real * _KA
    northing += _Y0_M - _NORTHING_AT_LAT0_M
    return easting, northing


def _tm_inverse(easting: FloatArray, northing: FloatArray) -> tuple[FloatArray, FloatArray]:
    """National Grid easting/northing (metres) → Airy 1830 lon/lat (degrees, OSGB36).

    Far-away points (more than ~6,000 km east/west or ~9,500 km north/south of the true origin)
    come back as NaN rather than wrapping round through the tan identities.
    """
    xi = (northing - _Y0_M + _NORTHING_AT_LAT0_M) / _KA
    eta = (easting - _X0_M) / _KA
    far = (np.abs(xi) > 1.5) | (np.abs(eta) > 1.0)
    xi[far] = np.nan
    zeta = np.empty(xi.shape, dtype=np.complex128)
    zeta.real = xi
    zeta.imag = eta
    zeta -= _krueger_sum(_BETA, np.tan(xi), np.sinh(eta))
    tan_xi = np.tan(zeta.real)
    cos_xi = 1.0 / np.sqrt(1.0 + tan_xi * tan_xi)
    sinh_eta = np.sinh(zeta.imag)
    tau_c = tan_xi * cos_xi / np.sqrt(sinh_eta * sinh_eta + cos_xi * cos_xi)
    lat = np.arctan(_tau_from_conformal(tau_c))
    lat *= 180.0 / math.pi
    lon = np.arctan(sinh_eta / cos_xi)
    lon *= 180.0 / math.pi
    lon += _LON0_DEG
    return lon, lat


def _tau_from_conformal(tau_c: FloatArray) -> FloatArray:
    """tan φ from the tangent of the conformal latitude: Newton's method (Karney 2011 eq. 19-21)."""
    e2m = 1.0 - _E * _E
    tau = tau_c / e2m
    for _ in range(5):  # converges quadratically: two steps reach machine precision
        sec = np.sqrt(1.0 + tau * tau)
        sigma = np.sinh(_E * np.arctanh(_E * tau / sec))
        tau_i = tau * np.sqrt(1.0 + sigma * sigma) - sigma * sec
        dtau = (tau_c - tau_i) * (1.0 + e2m * tau * tau)
        dtau /= e2m * sec * np.sqrt(1.0 + tau_i * tau_i)
        tau += dtau
        if not (np.abs(dtau) >= _NEWTON_TOL * np.maximum(1.0, np.abs(tau))).any():
            break
    return tau


def _meridian_arc_m(lat_deg: float) -> float:
    """Grid distance (metres) from the equator to ``lat_deg`` along the central meridian."""
    tau = math.tan(math.radians(lat_deg))
    sigma = math.sinh(_E * math.atanh(_E * tau / math.hypot(1.0, tau)))
    chi = math.atan(tau * math.hypot(1.0, sigma) - sigma * math.hypot(1.0, tau))
    return _KA * (chi + sum(a * math.sin(2 * k * chi) for k, a in enumerate(_ALPHA, start=1)))


_NORTHING_AT_LAT0_M = _meridian_arc_m(_LAT0_DEG)


def _read_tags(path: Path) -> dict[int, Any]:
    from PIL import Image  # noqa: PLC0415 - Pillow is only needed while loading

    try:
        with Image.open(path) as image:
            return dict(image.tag_v2.items())  # type: ignore[attr-defined]
    except (OSError, ValueError, SyntaxError, AttributeError) as exc:
        raise GridFileMissing(f"cannot read the OSTN15 grid {path}: {exc}") from exc


def _check_layout(tags: dict[int, Any], path: Path) -> float:
    """Refuse anything but PROJ-data's OSTN15 GeoTIFF; return the sign of its longitude shifts.

    Band meaning comes from the GDAL metadata (tag 42112): sample 0 is the latitude offset and
    sample 1 the longitude offset, in arc-seconds; NTv2 counts longitude west-positive, PROJ-data
    flips it to east-positive and says so in ``positive_value``.
    """
    problems = [
        f"tag {t} is {tags.get(t)!r}, expected {w!r}"
        for t, w in _TIFF_EXPECT.items()
        if tags.get(t) != w
    ]
    items: dict[tuple[str, str], str] = {}
    for match in _GDAL_ITEM.finditer(str(tags.get(42112, ""))):
        attrs = dict(_XML_ATTR.findall(match.group(1)))
        items[(attrs.get("sample", ""), attrs.get("role") or attrs.get("name", ""))] = match[2]
    problems += [
        f"band {k[0]} {k[1]} is {items.get(k)!r}" for k, w in _BANDS.items() if items.get(k) != w
    ]
    lon_sign = {"east": 1.0, "west": -1.0}.get(items.get(("1", "positive_value"), ""), 0.0)
    if problems or not lon_sign:
        detail = "; ".join(problems) or "no longitude sign"
        raise GridFileMissing(f"{path} is not the OSTN15 NTv2 GeoTIFF: {detail}")
    return lon_sign


def _decode_bands(raw: bytes, tags: dict[int, Any]) -> NDArray[np.float32]:
    """Inflate the tiles of bands 0 and 1 and undo TIFF predictor 3 (floating point).

    Predictor 3 stores each tile row as four byte planes, most significant first, then differences
    consecutive bytes: decode with a running sum (mod 256) along the row and re-interleave the
    planes into big-endian float32.
    """
    tile_w, tile_h = int(tags[322]), int(tags[323])
    across, down = -(-_WIDTH // tile_w), -(-_HEIGHT // tile_h)
    offsets, counts = tags[324], tags[325]
    out = np.empty((2, down * tile_h, across * tile_w), dtype=np.float32)
    for k in range(2 * across * down):  # planar configuration 2: band-major tiles
        band, (row, col) = k // (across * down), divmod(k % (across * down), across)
        data = zlib.decompress(raw[offsets[k] : offsets[k] + counts[k]])
        diffs = np.frombuffer(data, dtype=np.uint8).reshape(tile_h, 4 * tile_w)
        planes = np.cumsum(diffs, axis=1, dtype=np.uint8).reshape(tile_h, 4, tile_w)
        values = np.ascontiguousarray(planes.transpose(0, 2, 1)).view(">f4")[..., 0]
        out[band, row * tile_h : (row + 1) * tile_h, col * tile_w : (col + 1) * tile_w] = values
    return out[:, :_HEIGHT, :_WIDTH]


def _bilinear_table(lat_shift: NDArray[np.float32], lon_shift: NDArray[np.float32]) -> FloatArray:
    """Per grid cell, the bilinear coefficients (a, b, c, d) of both shifts, in degrees.

    The shift at fractions (u, v) of a cell is a + b·u + c·v + d·u·v, equal to PROJ's weighted sum
    of the four corner nodes. Cells run west to east, rows south to north; one 64-byte row per cell
    makes each lookup a single cache line.
    """
    table = np.empty(((_HEIGHT - 1) * (_WIDTH - 1), 8), dtype=np.float64)
    for k, band in enumerate((lat_shift, lon_shift)):
        grid = band[::-1].astype(np.float64) * (1.0 / 3600.0)  # GeoTIFF rows run north to south
        f00, f10, f01, f11 = grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]
        table[:, 4 * k + 0] = f00.ravel()
        table[:, 4 * k + 1] = (f10 - f00).ravel()
        table[:, 4 * k + 2] = (f01 - f00).ravel()
        table[:, 4 * k + 3] = (f11 - f10 - f01 + f00).ravel()
    return table


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
        path = Path(grid_path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise GridFileMissing(f"OSTN15 grid {path} cannot be read: {exc}") from exc
        tags = _read_tags(path)
        lon_sign = _check_layout(tags, path)
        try:
            bands = _decode_bands(raw, tags)
        except (zlib.error, ValueError, IndexError, KeyError, TypeError) as exc:
            raise GridFileMissing(f"OSTN15 grid {path} is corrupt: {exc}") from exc
        if not np.isfinite(bands).all() or np.abs(bands).max() > 20.0:
            raise GridFileMissing(f"OSTN15 grid {path} holds implausible shifts")
        return cls(_bilinear_table(bands[0], lon_sign * bands[1]))

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
        fx = lon - _WEST_DEG
        fx *= 1.0 / _RES_LON_DEG
        fy = lat - _SOUTH_DEG
        fy *= 1.0 / _RES_LAT_DEG
        # fmax/fmin also map NaN to a valid cell (no cast warning); those rows stay NaN.
        ix = np.fmin(np.fmax(fx, 0.0), _WIDTH - 2).astype(np.intp)
        cell = np.fmin(np.fmax(fy, 0.0), _HEIGHT - 2).astype(np.intp)
        fx -= ix
        fy -= cell
        cell *= _WIDTH - 1
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
    inside = lon >= _WEST_DEG
    inside &= lon <= _WEST_DEG + (_WIDTH - 1) * _RES_LON_DEG
    inside &= lat >= _SOUTH_DEG
    inside &= lat <= _SOUTH_DEG + (_HEIGHT - 1) * _RES_LAT_DEG
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
