"""Reader of PROJ-data's GeoTIFF of the OS NTv2 OSTN15 grid (``uk_os_OSTN15_NTv2_OSGBtoETRS.tif``).

The grid holds OSGB36 → ETRS89 shifts in arc-seconds at 1' × 0.5' nodes, indexed by OSGB36
lon/lat. This module checks that a file is exactly that grid, inflates and un-predicts its tiles,
and turns the two shift bands into a table of bilinear coefficients; :class:`geo.projection.OSTN15`
interpolates that table. It is separate from :mod:`geo.projection` because it is the only part of
the transformation that touches a file and its format (TIFF tags, GDAL metadata, deflate,
floating-point predictor), and it runs once per process while the projection runs per point.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geo.errors import GridFileMissing

__all__ = [
    "HEIGHT",
    "RES_LAT_DEG",
    "RES_LON_DEG",
    "SOUTH_DEG",
    "WEST_DEG",
    "WIDTH",
    "load_shift_table",
]

FloatArray = NDArray[np.float64]

# fmt: off
# PROJ-data's uk_os_OSTN15_NTv2_OSGBtoETRS.tif: nodes every 1' of lon and 0.5' of lat from
# (-9°, 49°) to (2°, 61°). Tags: size, float32, deflate, 4 samples, planar 2, predictor 3,
# pixel scale and the north-west node (PixelIsPoint).
WIDTH, HEIGHT = 661, 1441
WEST_DEG, SOUTH_DEG, RES_LON_DEG, RES_LAT_DEG = -9.0, 49.0, 1.0 / 60.0, 1.0 / 120.0
_TIFF_EXPECT: dict[int, Any] = {
    256: WIDTH, 257: HEIGHT, 258: (32,) * 4, 259: 8, 277: 4, 284: 2, 317: 3, 339: (3,) * 4,
    33550: (RES_LON_DEG, RES_LAT_DEG, 0.0),
    33922: (0.0, 0.0, 0.0, WEST_DEG, SOUTH_DEG + (HEIGHT - 1) * RES_LAT_DEG, 0.0),
}
_BANDS = {("0", "description"): "latitude_offset", ("1", "description"): "longitude_offset",
          ("0", "unittype"): "arc-second", ("1", "unittype"): "arc-second"}
# fmt: on
_GDAL_ITEM = re.compile(r"<Item\b([^>]*)>([^<]*)</Item>")
_XML_ATTR = re.compile(r'(\w+)="([^"]*)"')


def load_shift_table(grid_path: Path) -> FloatArray:
    """Read the OSTN15 GeoTIFF into per-cell bilinear coefficients of its shifts, in degrees.

    Parameters
    ----------
    grid_path : pathlib.Path
        The GeoTIFF (661 × 1441 nodes, lon -9..2, lat 49..61; OSGB36 → ETRS89 shifts).

    Returns
    -------
    numpy.ndarray
        float64 ``[(HEIGHT - 1) * (WIDTH - 1), 8]``: per cell (west to east, then south to
        north) the coefficients (a, b, c, d) of the latitude shift, then of the longitude shift
        (east-positive), in degrees of OSGB36 lon/lat.

    Raises
    ------
    GridFileMissing
        The file is missing, unreadable, corrupt or not the OSTN15 grid.
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
    return _bilinear_table(bands[0], lon_sign * bands[1])


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
    across, down = -(-WIDTH // tile_w), -(-HEIGHT // tile_h)
    offsets, counts = tags[324], tags[325]
    out = np.empty((2, down * tile_h, across * tile_w), dtype=np.float32)
    for k in range(2 * across * down):  # planar configuration 2: band-major tiles
        band, (row, col) = k // (across * down), divmod(k % (across * down), across)
        data = zlib.decompress(raw[offsets[k] : offsets[k] + counts[k]])
        diffs = np.frombuffer(data, dtype=np.uint8).reshape(tile_h, 4 * tile_w)
        planes = np.cumsum(diffs, axis=1, dtype=np.uint8).reshape(tile_h, 4, tile_w)
        values = np.ascontiguousarray(planes.transpose(0, 2, 1)).view(">f4")[..., 0]
        out[band, row * tile_h : (row + 1) * tile_h, col * tile_w : (col + 1) * tile_w] = values
    return out[:, :HEIGHT, :WIDTH]


def _bilinear_table(lat_shift: NDArray[np.float32], lon_shift: NDArray[np.float32]) -> FloatArray:
    """Per grid cell, the bilinear coefficients (a, b, c, d) of both shifts, in degrees.

    The shift at fractions (u, v) of a cell is a + b·u + c·v + d·u·v, equal to PROJ's weighted sum
    of the four corner nodes. Cells run west to east, rows south to north; one 64-byte row per cell
    makes each lookup a single cache line.
    """
    table = np.empty(((HEIGHT - 1) * (WIDTH - 1), 8), dtype=np.float64)
    for k, band in enumerate((lat_shift, lon_shift)):
        grid = band[::-1].astype(np.float64) * (1.0 / 3600.0)  # GeoTIFF rows run north to south
        f00, f10, f01, f11 = grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]
        table[:, 4 * k + 0] = f00.ravel()
        table[:, 4 * k + 1] = (f10 - f00).ravel()
        table[:, 4 * k + 2] = (f01 - f00).ravel()
        table[:, 4 * k + 3] = (f11 - f10 - f01 + f00).ravel()
    return table
