"""Square cells aligned to the British National Grid, and incident counts in them.

Cell ``(i, j)`` of size ``s`` metres covers ``[i*s, (i+1)*s) x [j*s, (j+1)*s)`` in EPSG:27700, so
cells of the same size from different requests always line up (and line up with OS grid squares
when ``s`` divides 1 km). A :class:`CellGrid` is a dense ``[ny, nx]`` array of counts with row 0
the southernmost row, plus a mask of the cells that are features of the analysis (the study
region). Features are always listed in row-major order of the masked cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.errors import InvalidGeometry, InvalidInput

#: Largest grid (cells, masked or not) any function here will allocate.
MAX_CELLS = 25_000_000

#: Side, in cells, of the coarse blocks used to classify cells against a region outline.
_BLOCK = 16

Extent = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class CellGrid:
    """Counts on British National Grid aligned square cells (EPSG:27700 metres).

    Attributes
    ----------
    cell_m : float
        Cell side in metres.
    i0, j0 : int
        Grid index of the south-west cell: column ``c`` of the arrays is cell ``i0 + c`` (easting
        ``(i0 + c) * cell_m``), row ``r`` is cell ``j0 + r`` (northing ``(j0 + r) * cell_m``).
    counts : numpy.ndarray
        int64 ``[ny, nx]``; row 0 is the southernmost row. Zero outside the mask.
    mask : numpy.ndarray
        bool ``[ny, nx]``; the cells that belong to the study region (the features of a result).
    """

    cell_m: float
    i0: int
    j0: int
    counts: NDArray[np.int64]
    mask: NDArray[np.bool_]

    @property
    def n_features(self) -> int:
        """Number of masked cells."""
        return int(np.count_nonzero(self.mask))

    def feature_ij(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Grid indices ``(i, j)`` of the masked cells, in row-major order (south row first)."""
        rows, cols = np.nonzero(self.mask)
        return cols.astype(np.int64) + self.i0, rows.astype(np.int64) + self.j0

    def feature_counts(self) -> NDArray[np.int64]:
        """Counts of the masked cells, in the order of :meth:`feature_ij`."""
        return self.counts[self.mask]

    def cell_bounds(self) -> NDArray[np.float64]:
        """Bounds of the masked cells: ``[n_features, 4]`` of ``minx, miny, maxx, maxy``.

        EPSG:27700 metres; rows follow the order of :meth:`feature_ij`.
        """
        i, j = self.feature_ij()
        s = self.cell_m
        return np.column_stack([i * s, j * s, (i + 1) * s, (j + 1) * s]).astype(np.float64)


def grid_counts(
    easting: NDArray[np.floating] | NDArray[np.integer],
    northing: NDArray[np.floating] | NDArray[np.integer],
    cell_m: float,
    extent: Extent | None = None,
    region: shapely.Geometry | None = None,
) -> CellGrid:
    """Count points in British National Grid aligned square cells.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Point coordinates, EPSG:27700 metres, 1-D and of equal length (may be empty when
        ``extent`` or ``region`` is given).
    cell_m : float
        Cell side in metres.
    extent : tuple of float, optional
        ``(minx, miny, maxx, maxy)`` in metres, taken as the half-open box
        ``[minx, maxx) x [miny, maxy)`` and snapped outward to whole cells. Defaults to the
        bounds of ``region`` when one is given, else to the points' bounds (the cell holding the
        largest coordinate is included).
    region : shapely.Geometry, optional
        Polygonal study region (e.g. the partnership outline), EPSG:27700. Only cells whose
        interior overlaps it are in the mask; cells that merely touch its outline along an edge
        or at a corner are not.

    Returns
    -------
    CellGrid
        Counts of the points falling in masked cells; points outside the mask are not counted.

    Raises
    ------
    InvalidInput
        ``cell_m`` not a positive finite number, coordinates not finite or of unequal length, no
        way to infer an extent, or a grid of more than 25 million cells.
    InvalidGeometry
        ``region`` empty or not polygonal.
    """
    s = _check_cell(cell_m)
    e, n = _check_points(easting, northing)
    if region is not None:
        _check_region(region)
    i0, j0, nx, ny = _grid_frame(e, n, s, extent, region)
    mask = (
        np.ones((ny, nx), dtype=np.bool_)
        if region is None
        else _region_mask(region, i0, j0, nx, ny, s)
    )
    ci = np.floor(e / s).astype(np.int64) - i0
    cj = np.floor(n / s).astype(np.int64) - j0
    inside = (ci >= 0) & (ci < nx) & (cj >= 0) & (cj < ny)
    flat = cj[inside] * nx + ci[inside]
    counts = np.bincount(flat, minlength=nx * ny).astype(np.int64).reshape(ny, nx)
    counts[~mask] = 0
    return CellGrid(cell_m=s, i0=i0, j0=j0, counts=counts, mask=mask)


def occupied_region(
    easting: NDArray[np.floating] | NDArray[np.integer],
    northing: NDArray[np.floating] | NDArray[np.integer],
    cell_m: float,
    ring: int = 1,
) -> shapely.Geometry:
    """The cells holding at least one point, grown by ``ring`` cells each way (queen).

    Used as the study region of a grid analysis over where data are rather than over a
    boundary: empty cells next to occupied ones count, empty expanses (sea, other counties
    between scattered outliers) do not.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Point coordinates, EPSG:27700 metres, finite, 1-D and of equal length.
    cell_m : float
        Cell side in metres (cells aligned to the British National Grid, as in :func:`grid_counts`).
    ring : int
        Neighbouring cells added around each occupied cell (0: the occupied cells only).

    Returns
    -------
    shapely.Geometry
        The union of the cells, a Polygon or MultiPolygon in EPSG:27700.

    Raises
    ------
    InvalidInput
        No points, bad coordinates or cell size, or a negative ``ring``.
    """
    s = _check_cell(cell_m)
    e, n = _check_points(easting, northing)
    if e.size == 0:
        raise InvalidInput("no points: there is no data extent to analyse")
    if ring < 0:
        raise InvalidInput("ring must be a non-negative number of cells")
    cells = np.unique(np.column_stack([np.floor(e / s), np.floor(n / s)]).astype(np.int64), axis=0)
    di, dj = np.meshgrid(np.arange(-ring, ring + 1), np.arange(-ring, ring + 1))
    offsets = np.column_stack([di.ravel(), dj.ravel()])
    grown = np.unique((cells[:, None, :] + offsets[None, :, :]).reshape(-1, 2), axis=0)
    if grown.shape[0] > MAX_CELLS:
        raise InvalidInput(f"{grown.shape[0]:,} cells exceed {MAX_CELLS:,}: use larger cells")
    # Whole cells share edges exactly, so a coverage union is exact (and fast).
    return shapely.coverage_union_all(_boxes(grown[:, 0] * s, grown[:, 1] * s, s))


def snap_extent(
    extent: Extent, cell_m: float, closed_max: bool = False
) -> tuple[int, int, int, int]:
    """Cells ``(i0, j0, nx, ny)`` covering an extent, snapped outward to the grid.

    Parameters
    ----------
    extent : tuple of float
        ``(minx, miny, maxx, maxy)``, EPSG:27700 metres.
    cell_m : float
        Cell side in metres.
    closed_max : bool
        If true the maxima belong to the extent (bounds of points); if false the extent is
        half-open and a maximum lying exactly on a grid line adds no cell.

    Raises
    ------
    InvalidInput
        Non-finite or inverted extent, or more than 25 million cells.
    """
    minx, miny, maxx, maxy = (float(v) for v in extent)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or maxx < minx or maxy < miny:
        raise InvalidInput(f"extent must be finite (minx, miny, maxx, maxy); got {extent!r}")
    i0, j0 = math.floor(minx / cell_m), math.floor(miny / cell_m)
    if closed_max:
        i1, j1 = math.floor(maxx / cell_m) + 1, math.floor(maxy / cell_m) + 1
    else:
        i1, j1 = math.ceil(maxx / cell_m), math.ceil(maxy / cell_m)
    nx, ny = max(i1 - i0, 1), max(j1 - j0, 1)
    if nx * ny > MAX_CELLS:
        raise InvalidInput(
            f"a {nx} x {ny} grid of {cell_m:g} m cells exceeds {MAX_CELLS:,} cells; "
            "use larger cells or a smaller extent"
        )
    return i0, j0, nx, ny


def _check_cell(cell_m: float) -> float:
    s = float(cell_m)
    if not math.isfinite(s) or s <= 0:
        raise InvalidInput(f"cell_m must be a positive number of metres; got {cell_m!r}")
    return s


def _check_points(
    easting: NDArray[np.floating] | NDArray[np.integer],
    northing: NDArray[np.floating] | NDArray[np.integer],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    e = np.asarray(easting, dtype=np.float64)
    n = np.asarray(northing, dtype=np.float64)
    if e.ndim != 1 or e.shape != n.shape:
        raise InvalidInput("easting and northing must be 1-D arrays of equal length")
    if not (np.isfinite(e).all() and np.isfinite(n).all()):
        raise InvalidInput("easting and northing must be finite (drop unlocated points first)")
    return e, n


def _check_region(region: shapely.Geometry) -> None:
    if not isinstance(region, shapely.Geometry) or shapely.is_empty(region):
        raise InvalidGeometry("region must be a non-empty shapely geometry")
    if not isinstance(region, shapely.Polygon | shapely.MultiPolygon):
        raise InvalidGeometry(
            f"region must be a Polygon or MultiPolygon; got {type(region).__name__}"
        )


def _grid_frame(
    e: NDArray[np.float64],
    n: NDArray[np.float64],
    s: float,
    extent: Extent | None,
    region: shapely.Geometry | None,
) -> tuple[int, int, int, int]:
    if extent is not None:
        return snap_extent(extent, s)
    if region is not None:
        minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(region))
        return snap_extent((minx, miny, maxx, maxy), s)
    if e.size == 0:
        raise InvalidInput("no points, no extent and no region: cannot infer the grid extent")
    bounds = (float(e.min()), float(n.min()), float(e.max()), float(n.max()))
    return snap_extent(bounds, s, closed_max=True)


def _boxes(
    x0: NDArray[np.floating[Any]], y0: NDArray[np.floating[Any]], size: float
) -> NDArray[np.object_]:
    boxes: NDArray[np.object_] = shapely.box(x0, y0, x0 + size, y0 + size)
    return boxes


def _region_mask(
    region: shapely.Geometry, i0: int, j0: int, nx: int, ny: int, s: float
) -> NDArray[np.bool_]:
    """Cells whose interior overlaps ``region``.

    Whole blocks of cells are settled first (inside the region, or clear of it); only the cells of
    blocks crossed by the outline are tested one by one, which keeps large grids cheap.
    """
    shapely.prepare(region)
    nbx, nby = -(-nx // _BLOCK), -(-ny // _BLOCK)
    brow, bcol = np.divmod(np.arange(nbx * nby, dtype=np.int64), nbx)
    bsize = _BLOCK * s
    blocks = _boxes(i0 * s + bcol * bsize, j0 * s + brow * bsize, bsize)
    inside = shapely.contains_properly(region, blocks)
    crossed = shapely.intersects(region, blocks) & ~inside
    state = np.where(inside, 1, np.where(crossed, 2, 0)).astype(np.int8).reshape(nby, nbx)
    state = np.repeat(np.repeat(state, _BLOCK, axis=0), _BLOCK, axis=1)[:ny, :nx]
    mask: NDArray[np.bool_] = state == 1
    rows, cols = np.nonzero(state == 2)
    boxes = _boxes((i0 + cols) * s, (j0 + rows) * s, s)
    hit = shapely.intersects(region, boxes)
    hit[hit] = ~shapely.touches(region, boxes[hit])
    mask[rows, cols] = hit
    return mask
