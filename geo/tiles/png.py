"""Choropleth PNG tiles (256 px, 512 px for ``@2x``) drawn by an even-odd scanline fill in numpy.

Fill rule: a pixel takes a feature's colour when the pixel centre lies inside the feature by the
even-odd rule, with edges half-open so that shared boundaries are drawn once. Every ring of every
polygon is cut by the pixel-centre rows at once; the crossings of each feature and row, sorted by
``x``, pair up into spans, and holes fall out of the even-odd pairing without a mask. Where
features overlap the later one is on top. There is no anti-aliasing.

Outlines are sampled along every ring edge at half-pixel steps and stamped as a square of
``round(outline_width_px * size_px / 256)`` device pixels, then composited over the fill with
straight-alpha "over". ``outline_width_px`` is in CSS pixels (a 256 px tile), so a 512 px
``@2x`` tile gets lines twice as wide and is the same picture at double resolution. Geometries
are clipped a few pixels outside the tile first, so clip edges never show.
"""

from __future__ import annotations

import io
import math

import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image

from geo.errors import InvalidGeometry, InvalidInput
from geo.tiles.webmercator import (
    ABSOLUTE_MAX_ZOOM,
    buffered_tile_bounds,
    in_bounds,
    polygon_rings,
    to_tile_grid,
    validate_tile,
)

#: Tile side at device-pixel ratio 1; outline widths are measured against it.
CSS_TILE_PX = 256
#: Largest tile side accepted (pixels).
MAX_SIZE_PX = 4096
#: Shapely type ids of Polygon and MultiPolygon.
_POLYGONAL = (3, 6)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def render_tile(
    geometries: np.ndarray,
    fill_rgba: np.ndarray,
    z: int,
    x: int,
    y: int,
    size_px: int = 256,
    outline_rgba: tuple[int, int, int, int] | None = (80, 80, 80, 200),
    outline_width_px: float = 1.0,
) -> bytes:
    """Draw polygons filled with per-feature colours as a transparent PNG tile.

    Parameters
    ----------
    geometries : numpy.ndarray
        Polygons/multipolygons in EPSG:3857 metres; None and empty geometries are skipped.
    fill_rgba : numpy.ndarray
        uint8 ``[n, 4]`` straight-alpha colour of each geometry; alpha 0 means the feature is
        not drawn at all (neither fill nor outline).
    z, x, y : int
        XYZ tile address.
    size_px : int, default 256
        Side of the image in pixels (512 for ``@2x``).
    outline_rgba : tuple of int or None, default ``(80, 80, 80, 200)``
        Colour of the polygon outlines; None draws no outline.
    outline_width_px : float, default 1.0
        Outline width in CSS pixels (scaled by ``size_px / 256``).

    Returns
    -------
    bytes
        PNG image, RGBA, transparent where nothing is drawn.

    Raises
    ------
    InvalidInput
        Bad tile address, size, colour array shape or outline settings.
    InvalidGeometry
        A geometry that is not polygonal.
    """
    validate_tile(z, x, y, max_zoom=ABSOLUTE_MAX_ZOOM)
    geoms, fills = _check_inputs(geometries, fill_rgba, size_px, outline_rgba, outline_width_px)
    ratio = size_px / CSS_TILE_PX
    stroke_px = 0 if outline_rgba is None else max(1, round(outline_width_px * ratio))
    box = buffered_tile_bounds(z, x, y, stroke_px + 2, size_px)
    candidates = in_bounds(geoms, box)
    visible = candidates[fills[candidates, 3] > 0]
    clipped = shapely.clip_by_rect(geoms[visible], *box)
    coords, ring, ring_part, part_owner = polygon_rings(clipped)
    column, row = to_tile_grid(coords, z, x, y, size_px)
    # Rings are closed, so consecutive vertices of the same ring walk every edge once.
    edge = np.flatnonzero(ring[1:] == ring[:-1])
    x0, y0, x1, y1 = column[edge], row[edge], column[edge + 1], row[edge + 1]
    owner = part_owner[ring_part[ring[edge]]]
    image = np.zeros((size_px, size_px, 4), dtype=np.uint8)
    top = _scanline_fill(x0, y0, x1, y1, owner, size_px)
    drawn = top >= 0
    image[drawn] = fills[visible][top[drawn]]
    if outline_rgba is not None and x0.size:
        line = _outline_mask(x0, y0, x1, y1, size_px, stroke_px)
        image[line] = _over(np.array(outline_rgba, dtype=np.float64), image[line])
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_inputs(
    geometries: np.ndarray,
    fill_rgba: np.ndarray,
    size_px: int,
    outline_rgba: tuple[int, int, int, int] | None,
    outline_width_px: float,
) -> tuple[np.ndarray, NDArray[np.uint8]]:
    geoms = np.asarray(geometries, dtype=object).ravel()
    fills = np.asarray(fill_rgba)
    if fills.shape != (geoms.size, 4) or fills.dtype.kind not in "ui":
        raise InvalidInput(f"fill_rgba must be an integer array of shape ({geoms.size}, 4)")
    if (fills < 0).any() or (fills > 255).any():
        raise InvalidInput("fill_rgba values must be 0..255")
    if isinstance(size_px, bool) or not isinstance(size_px, int) or not 1 <= size_px <= MAX_SIZE_PX:
        raise InvalidInput(f"size_px must be an integer from 1 to {MAX_SIZE_PX}, not {size_px!r}")
    if outline_rgba is not None and (
        len(outline_rgba) != 4 or any(not 0 <= int(c) <= 255 for c in outline_rgba)
    ):
        raise InvalidInput("outline_rgba must be four integers 0..255 or None")
    if not (math.isfinite(outline_width_px) and 0 < outline_width_px <= 32):
        raise InvalidInput(f"outline_width_px must be in (0, 32], not {outline_width_px!r}")
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not np.isin(shapely.get_type_id(geoms[present]), _POLYGONAL).all():
        raise InvalidGeometry("PNG tiles draw polygons only")
    return geoms, fills.astype(np.uint8)


def _scanline_fill(
    x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, owner: IntArray, size: int
) -> NDArray[np.int64]:
    """Index of the topmost feature covering each pixel centre (even-odd rule), or -1."""
    top = np.full(size * size, -1, dtype=np.int64)
    low_y, high_y = np.minimum(y0, y1), np.maximum(y0, y1)
    # Rows whose centre r + 0.5 lies in [low_y, high_y): the half-open rule counts a vertex once.
    first_row = np.clip(np.ceil(low_y - 0.5), 0, size).astype(np.int64)
    end_row = np.clip(np.ceil(high_y - 0.5), 0, size).astype(np.int64)
    crossings = np.maximum(end_row - first_row, 0)
    edge = np.repeat(np.arange(x0.size), crossings)
    if edge.size == 0:
        return top.reshape(size, size)
    row = (
        first_row[edge]
        + np.arange(edge.size)
        - np.repeat(np.cumsum(crossings) - crossings, crossings)
    )
    centre_y = row + 0.5
    cross_x = x0[edge] + (centre_y - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
    order = np.lexsort((cross_x, row, owner[edge]))
    cross_x, row, who = cross_x[order], row[order], owner[edge][order]
    # Each feature's crossings on a row come in pairs (closed rings); each pair is one span.
    start_col = np.clip(np.ceil(cross_x[0::2] - 0.5), 0, size).astype(np.int64)
    end_col = np.clip(np.ceil(cross_x[1::2] - 0.5), 0, size).astype(np.int64)
    width = np.maximum(end_col - start_col, 0)
    span = np.repeat(np.arange(width.size), width)
    column = start_col[span] + np.arange(span.size) - np.repeat(np.cumsum(width) - width, width)
    np.maximum.at(top, row[0::2][span] * size + column, who[0::2][span])
    return top.reshape(size, size)


def _outline_mask(
    x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, size: int, stroke_px: int
) -> NDArray[np.bool_]:
    """Pixels touched by a square pen of ``stroke_px`` pixels moved along every edge."""
    steps = np.ceil(np.hypot(x1 - x0, y1 - y0) * 2.0).astype(np.int64) + 1
    edge = np.repeat(np.arange(x0.size), steps)
    fraction = (np.arange(edge.size) - np.repeat(np.cumsum(steps) - steps, steps)) / np.maximum(
        steps[edge] - 1, 1
    )
    col = np.floor(x0[edge] + fraction * (x1[edge] - x0[edge])).astype(np.int64)
    row = np.floor(y0[edge] + fraction * (y1[edge] - y0[edge])).astype(np.int64)
    mask = np.zeros((size, size), dtype=bool)
    low = -((stroke_px - 1) // 2)
    for d_row in range(low, low + stroke_px):
        for d_col in range(low, low + stroke_px):
            r, c = row + d_row, col + d_col
            inside = (r >= 0) & (r < size) & (c >= 0) & (c < size)
            mask[r[inside], c[inside]] = True
    return mask


def _over(top: FloatArray, below: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Straight-alpha source-over of one colour onto an array of RGBA pixels."""
    alpha_top = top[3] / 255.0
    alpha_below = below[:, 3] / 255.0 * (1.0 - alpha_top)
    alpha = alpha_top + alpha_below
    rgb = (top[:3] * alpha_top + below[:, :3] * alpha_below[:, None]) / np.maximum(alpha, 1e-12)[
        :, None
    ]
    return np.column_stack([rgb, alpha * 255.0]).round().clip(0, 255).astype(np.uint8)
