"""Spatial weights: queen contiguity of grid cells and of polygons, as binary sparse matrices.

Rows and columns follow the feature order of the caller: masked cells in row-major order (south row
first, as :class:`geo.grid.CellGrid` lists them) or the order of the geometry array.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import shapely
from numpy.typing import NDArray

from geo.errors import InvalidGeometry, InvalidInput

#: Default snapping tolerance for polygon contiguity, metres. Shared vertices of neighbouring
#: generalised boundaries reprojected from longitude/latitude differ by ~1e-7 m, so an exact test
#: misses neighbours; 1 cm is far below any real gap between areas.
POLYGON_TOLERANCE_M = 0.01


def grid_queen(mask: NDArray[np.bool_], include_self: bool = True) -> scipy.sparse.csr_matrix:
    """Binary queen contiguity of the masked cells of a grid.

    Parameters
    ----------
    mask : numpy.ndarray
        bool ``[ny, nx]``; the cells that are features (row 0 south, as in ``CellGrid``).
    include_self : bool
        Put 1 on the diagonal (the Gi* convention), or leave it 0 (local Moran's I).

    Returns
    -------
    scipy.sparse.csr_matrix
        float64 ``[n, n]`` over the masked cells in row-major order; ``w[a, b] = 1`` when cells
        ``a`` and ``b`` share an edge or a corner. Sorted indices, no explicit zeros.

    Raises
    ------
    InvalidInput
        ``mask`` is not two-dimensional.
    """
    m = np.asarray(mask, dtype=np.bool_)
    if m.ndim != 2:
        raise InvalidInput(f"mask must be a 2-D boolean array; got {m.ndim} dimensions")
    ny, nx = m.shape
    n = int(np.count_nonzero(m))
    index = np.full(m.shape, -1, dtype=np.int64)
    index[m] = np.arange(n, dtype=np.int64)
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0 and not include_self:
                continue
            # source cell (y, x), neighbour (y + dy, x + dx), both inside the array
            src = index[_lo(-dy) : ny - _lo(dy), _lo(-dx) : nx - _lo(dx)]
            dst = index[_lo(dy) : ny - _lo(-dy), _lo(dx) : nx - _lo(-dx)]
            keep = (src >= 0) & (dst >= 0)
            rows.append(src[keep])
            cols.append(dst[keep])
    return _binary_csr(np.concatenate(rows), np.concatenate(cols), n)


def polygon_queen(
    geometries: NDArray[np.object_], tolerance_m: float = POLYGON_TOLERANCE_M
) -> scipy.sparse.csr_matrix:
    """Binary queen contiguity of polygons: neighbours share at least one boundary point.

    Parameters
    ----------
    geometries : numpy.ndarray
        1-D array of shapely Polygons/MultiPolygons in a projected CRS (EPSG:27700 metres).
    tolerance_m : float
        Two areas are neighbours when they come within this distance (metres) of each other.
        ``0`` is the exact test (the boundaries intersect). The default (1 cm) absorbs the
        floating-point noise in shared vertices of boundaries reprojected from lon/lat, which
        makes an exact test, and libpysal's shared-vertex test, miss true neighbours.

    Returns
    -------
    scipy.sparse.csr_matrix
        float64 ``[n, n]``, symmetric, zero diagonal, sorted indices.

    Raises
    ------
    InvalidGeometry
        A missing, empty or non-polygonal geometry.
    InvalidInput
        ``geometries`` not 1-D, or ``tolerance_m`` negative or not finite.
    """
    geoms = np.asarray(geometries, dtype=object)
    if geoms.ndim != 1:
        raise InvalidInput("geometries must be a 1-D array of shapely geometries")
    tol = float(tolerance_m)
    if not math.isfinite(tol) or tol < 0:
        raise InvalidInput(f"tolerance_m must be a non-negative number; got {tolerance_m!r}")
    _check_polygons(geoms)
    tree = shapely.STRtree(geoms)
    if tol > 0:
        pairs = tree.query(geoms, predicate="dwithin", distance=tol)
    else:
        pairs = tree.query(geoms, predicate="intersects")
    src, dst = pairs[0].astype(np.int64), pairs[1].astype(np.int64)
    off = src != dst
    return _binary_csr(src[off], dst[off], geoms.size)


def _lo(d: int) -> int:
    return max(d, 0)


def _binary_csr(
    rows: NDArray[np.int64], cols: NDArray[np.int64], n: int
) -> scipy.sparse.csr_matrix:
    w = scipy.sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    w.sum_duplicates()
    w.data[:] = 1.0
    w.sort_indices()
    return w


def _check_polygons(geoms: NDArray[np.object_]) -> None:
    is_geom = shapely.is_geometry(geoms)
    if not np.all(is_geom):
        bad = int(np.flatnonzero(~is_geom)[0])
        raise InvalidGeometry(f"geometry {bad} is missing (not a shapely geometry)")
    empty = shapely.is_empty(geoms)
    if np.any(empty):
        raise InvalidGeometry(f"geometry {int(np.flatnonzero(empty)[0])} is empty")
    kind = shapely.get_type_id(geoms)
    areal = (kind == shapely.GeometryType.POLYGON) | (kind == shapely.GeometryType.MULTIPOLYGON)
    if not np.all(areal):
        raise InvalidGeometry(f"geometry {int(np.flatnonzero(~areal)[0])} is not a polygon")
