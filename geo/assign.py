"""Exact, fast point-in-polygon assignment of grid references to the areas of a boundary layer.

Method
------
A label raster of square cells (``cell_m`` metres, aligned to multiples of ``cell_m`` on the
British National Grid) covers the layer's extent. Every polygon edge is cut into pieces no longer
than half a cell and each piece marks the cells its bounding box (padded by a rounding margin)
touches: the marking is conservative, so an unmarked ("pure") cell provably contains no point of
any polygon boundary. 4-connected pure cells therefore share one answer; one exact point-in-polygon
test of a representative cell centre per connected component labels them all. A point in a pure
cell is answered by one raster lookup.

A marked ("mixed") cell keeps the short list of areas whose boundary touches it, plus the lowest
area that covers the whole cell (its "background", which matters only where areas overlap). Points
in mixed cells are tested exactly against those candidates with GEOS (``shapely.contains_xy`` on
prepared polygons, exact predicates); points GEOS finds exactly on a boundary go through the edge
rule below, evaluated with exact arithmetic.

Edge rule (deterministic)
-------------------------
A point ``p`` belongs to area ``A`` when the point ``p + (ε, ε²)`` lies inside ``A`` for every
small enough ``ε > 0``: the point is pushed an infinitesimal step east and, to break ties along
edges running exactly east-west, an infinitely smaller step north (symbolic perturbation). The
pushed point is never on any boundary, so when the layer tiles (no gaps, no overlaps) a point on an
edge or vertex shared by several areas belongs to exactly one of them. Equivalently, ``p`` is in
``A`` when the crossing number of ``A``'s rings is odd, counting an edge with lower end ``a`` and
upper end ``b`` when ``a.y <= p.y < b.y`` and ``p`` is strictly left of ``a -> b``. On the layer's
outer outline a point belongs to the area that lies immediately east of it (north of it along an
east-west edge) and gets -1 otherwise. Where areas overlap, the lowest index among the areas
containing the (pushed) point wins; points in gaps, outside the layer, or with a non-finite
coordinate get -1.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import ndimage

from geo.boundaries import check_areal
from geo.errors import InvalidInput

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
GeomArray = npt.NDArray[np.object_]

_FORMAT = 1
_BLOB_KEYS = {"format", "digest", "grid", "raster", "cand_offsets", "candidates", "background"}
_NONE = np.iinfo(np.int32).max  # "no area yet" while taking minima
_DEFAULT_CELLS = 1 << 22  # ~4M cells (16 MB raster) unless the caller picks cell_m
_MAX_CELLS = 1 << 26
_MIN_CELL_M = 5.0
_PAIRS_PER_CHUNK = 1 << 22
# Shewchuk's bound for the floating-point orient2d sign (errors below it need exact arithmetic).
_CCW_ERRBOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53


def _digest(geoms: GeomArray) -> bytes:
    h = hashlib.sha256()
    for wkb in shapely.to_wkb(geoms, hex=False, include_srid=False):
        h.update(len(wkb).to_bytes(8, "little"))
        h.update(wkb)
    return h.digest()


def _edges(geoms: GeomArray) -> tuple[F64, F64, F64, F64, I64]:
    """All ring edges as (x0, y0, x1, y1, area index), zero-length edges dropped."""
    parts, part_area = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    area = part_area[ring_part[ring[:-1][same]]].astype(np.int64)
    moves = (a != b).any(axis=1)
    return a[moves, 0], a[moves, 1], b[moves, 0], b[moves, 1], area[moves]


def _orient_sign(ax: F64, ay: F64, bx: F64, by: F64, cx: F64, cy: F64) -> npt.NDArray[np.int8]:
    """Exact sign of orient2d(a, b, c): +1 when c is left of a -> b, -1 right, 0 on the line."""
    left = (ax - cx) * (by - cy)
    right = (ay - cy) * (bx - cx)
    det = left - right
    sign = np.sign(det).astype(np.int8)
    unsure = np.abs(det) <= _CCW_ERRBOUND * (np.abs(left) + np.abs(right))
    # A product with an exactly zero factor (c shares a coordinate with a or b, e.g. c is a
    # vertex) leaves the other product, whose sign is exact (floating subtraction keeps signs)
    # unless it underflowed to zero.
    zero_left = (ax == cx) | (by == cy)
    zero_right = (ay == cy) | (bx == cx)
    unsure &= ~((zero_left | zero_right) & ((det != 0) | (zero_left & zero_right)))
    # Only near-collinear triples (a point within ~1e-10 m of an edge's line) reach this loop.
    for i in np.flatnonzero(unsure):
        px, py, qx, qy, rx, ry = (Fraction(float(v[i])) for v in (ax, ay, bx, by, cx, cy))
        exact = (px - rx) * (qy - ry) - (py - ry) * (qx - rx)
        sign[i] = (exact > 0) - (exact < 0)
    return sign


class AreaIndex:
    """Point-in-polygon index of one boundary layer (EPSG:27700 metres).

    Build with :meth:`build`; answer with :meth:`assign`; cache with :meth:`to_bytes` and
    :meth:`from_bytes`. See the module docstring for the method and the edge rule.
    """

    def __init__(
        self,
        geometries: GeomArray,
        grid: F64,
        raster: I32,
        cand_offsets: I64,
        candidates: I32,
        background: I32,
    ) -> None:
        self._geoms = geometries
        self._grid = grid  # x0, y0, cell_m, nx, ny
        self._raster = raster
        self._cand_offsets = cand_offsets
        self._candidates = candidates
        self._background = background
        shapely.prepare(self._geoms)
        ex0, ey0, ex1, ey1, area = _edges(geometries)
        # Keep non-horizontal edges only (they alone can cross a horizontal ray), lower end first.
        keep = ey0 != ey1
        up = ey1 > ey0
        self._lo = np.where(up, np.stack([ex0, ey0]), np.stack([ex1, ey1]))[:, keep]
        self._hi = np.where(up, np.stack([ex1, ey1]), np.stack([ex0, ey0]))[:, keep]
        self._edge_offsets = np.searchsorted(area[keep], np.arange(geometries.size + 1))

    @property
    def n_areas(self) -> int:
        """Number of areas (the length of the geometry array the index was built from)."""
        return int(self._geoms.size)

    @property
    def cell_m(self) -> float:
        """Side of the raster cells, metres."""
        return float(self._grid[2])

    @classmethod
    def build(cls, geometries: Any, cell_m: float | None = None) -> AreaIndex:
        """Build the index of a layer.

        Parameters
        ----------
        geometries : array of shapely Polygons/MultiPolygons in EPSG:27700 (metres); area ``i``
            is ``geometries[i]``. Repair a layer with :func:`geo.boundaries.validate_layer` first.
        cell_m : raster cell side in metres; by default about 4 million cells over the extent
            (26 m for the Surrey layers), never below 5 m.

        Raises
        ------
        InvalidGeometry
            A geometry is missing, empty, not areal or invalid.
        InvalidInput
            ``cell_m`` is not positive, or so small the raster would exceed 2**26 cells.
        """
        geoms = check_areal(geometries)
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        if cell_m is None:
            span = max((xmax - xmin) * (ymax - ymin), 1.0)
            cell_m = max(_MIN_CELL_M, float(np.ceil(np.sqrt(span / _DEFAULT_CELLS))))
        if not np.isfinite(cell_m) or cell_m <= 0:
            raise InvalidInput("cell_m must be a positive number of metres")
        x0, y0 = (
            np.floor(xmin / cell_m) * cell_m - cell_m,
            np.floor(ymin / cell_m) * cell_m - cell_m,
        )
        nx = int(np.floor((xmax - x0) / cell_m)) + 2
        ny = int(np.floor((ymax - y0) / cell_m)) + 2
        if nx * ny > _MAX_CELLS:
            raise InvalidInput(f"cell_m={cell_m} gives {nx * ny} cells; use a larger cell")
        grid = np.array([x0, y0, cell_m, nx, ny], dtype=np.float64)
        cells, areas = _touched_cells(geoms, grid)
        tree = shapely.STRtree(geoms)
        raster, mixed = _label_pure_cells(tree, grid, cells)
        offsets = np.searchsorted(cells, np.append(mixed, np.int64(nx) * ny))
        background = _backgrounds(tree, grid, mixed, cells, areas)
        raster[mixed] = -2 - np.arange(mixed.size, dtype=np.int32)
        return cls(geoms, grid, raster, offsets, areas.astype(np.int32), background)

    def assign(self, easting: Any, northing: Any) -> I32:
        """Area index of each point (-1 outside every area, in a gap, or not finite).

        Parameters
        ----------
        easting, northing : arrays of the same shape, EPSG:27700 metres.

        Returns
        -------
        int32 array of that shape. Points on a boundary follow the edge rule of the module
        docstring; where areas overlap the lowest index wins.

        Raises
        ------
        InvalidInput
            The arrays differ in shape or are not numeric.
        """
        try:
            x = np.asarray(easting, dtype=np.float64)
            y = np.asarray(northing, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"easting/northing must be numeric: {exc}") from exc
        if x.shape != y.shape:
            raise InvalidInput(f"easting shape {x.shape} != northing shape {y.shape}")
        xf, yf = x.reshape(-1), y.reshape(-1)
        out = np.full(xf.size, -1, dtype=np.int32)
        x0, y0, cell, nx, ny = self._grid
        with np.errstate(invalid="ignore"):
            col = np.floor((xf - x0) / cell)
            row = np.floor((yf - y0) / cell)
        inside = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
        idx = np.flatnonzero(inside)
        label = self._raster[row[idx].astype(np.int64) * int(nx) + col[idx].astype(np.int64)]
        out[idx] = np.maximum(label, -1)
        mixed = label <= -2
        if mixed.any():
            pts = idx[mixed]
            out[pts] = self._resolve(xf[pts], yf[pts], -2 - label[mixed].astype(np.int64))
        return out.reshape(x.shape)

    def _resolve(self, x: F64, y: F64, rows: I64) -> I32:
        """Exact answer for points in mixed cells (``rows`` = mixed-cell numbers)."""
        best = self._background[rows].astype(np.int64)
        best[best < 0] = _NONE
        start, stop = self._cand_offsets[rows], self._cand_offsets[rows + 1]
        counts = stop - start
        pt = np.repeat(np.arange(x.size), counts)
        pos = np.arange(pt.size) - np.repeat(np.cumsum(counts) - counts, counts) + start[pt]
        area = self._candidates[pos].astype(np.int64)
        keep = area < best[pt]
        pt, area = pt[keep], area[keep]
        geoms = self._geoms[area]
        inside = shapely.contains_xy(geoms, x[pt], y[pt])
        np.minimum.at(best, pt[inside], area[inside])
        # A point on the boundary of a lower-numbered candidate needs the edge rule.
        maybe = ~inside & (area < best[pt])
        on_edge = np.zeros_like(maybe)
        on_edge[maybe] = shapely.intersects_xy(geoms[maybe], x[pt[maybe]], y[pt[maybe]])
        if on_edge.any():
            p, a = pt[on_edge], area[on_edge]
            won = self._pushed_inside(a, x[p], y[p])
            np.minimum.at(best, p[won], a[won])
        return np.where(best == _NONE, -1, best).astype(np.int32)

    def _pushed_inside(self, area: I64, x: F64, y: F64) -> npt.NDArray[np.bool_]:
        """Whether p + (ε, ε²) is inside ``area`` for each (area, point) pair (exact)."""
        counts = self._edge_offsets[area + 1] - self._edge_offsets[area]
        crossings = np.zeros(area.size, dtype=np.int64)
        ends = np.cumsum(counts)
        bounds = np.searchsorted(ends, np.arange(0, ends[-1], _PAIRS_PER_CHUNK), side="right")
        for first, last in zip(bounds, [*bounds[1:], area.size], strict=True):
            if first >= last:
                continue
            c = counts[first:last]
            pair = np.repeat(np.arange(first, last), c)
            edge = np.arange(pair.size) - np.repeat(np.cumsum(c) - c, c)
            edge += self._edge_offsets[area[pair]]
            (lx, ly), (hx, hy) = self._lo[:, edge], self._hi[:, edge]
            span = (ly <= y[pair]) & (y[pair] < hy)
            pair, lx, ly, hx, hy = pair[span], lx[span], ly[span], hx[span], hy[span]
            left = _orient_sign(lx, ly, hx, hy, x[pair], y[pair]) > 0
            crossings += np.bincount(pair[left], minlength=area.size)
        inside: npt.NDArray[np.bool_] = crossings % 2 == 1
        return inside

    def to_bytes(self) -> bytes:
        """Serialise the raster and candidate lists (zlib-compressed ``.npz``), not the polygons."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format=np.array([_FORMAT], dtype=np.int64),
            digest=np.frombuffer(_digest(self._geoms), dtype=np.uint8),
            grid=self._grid,
            raster=self._raster,
            cand_offsets=self._cand_offsets,
            candidates=self._candidates,
            background=self._background,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, geometries: Any) -> AreaIndex:
        """Rebuild an index from :meth:`to_bytes` output and the same geometries.

        Raises
        ------
        InvalidInput
            ``data`` is not an AreaIndex blob of this format, or was built from other geometries.
        InvalidGeometry
            As :meth:`build`.
        """
        geoms = check_areal(geometries)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as blob:
                parts = {k: blob[k] for k in blob.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise InvalidInput(f"not an AreaIndex blob: {exc}") from exc
        if not parts.keys() >= _BLOB_KEYS or parts["format"].tolist() != [_FORMAT]:
            raise InvalidInput("not an AreaIndex blob of this format version")
        if parts["digest"].tobytes() != _digest(geoms):
            raise InvalidInput("the AreaIndex blob was built from other geometries")
        return cls(
            geoms,
            parts["grid"],
            parts["raster"],
            parts["cand_offsets"],
            parts["candidates"],
            parts["background"],
        )


def _cell_of(v: F64, origin: float, cell_m: float) -> I64:
    return np.floor((v - origin) / cell_m).astype(np.int64)


def _touched_cells(geoms: GeomArray, grid: F64) -> tuple[I64, I64]:
    """(cell, area) pairs, sorted and unique, for every cell an area's boundary may touch."""
    x0, y0, cell, nx, _ = grid
    ax, ay, bx, by, area = _edges(geoms)
    n = np.maximum(1, np.ceil(np.hypot(bx - ax, by - ay) / (cell / 2))).astype(np.int64)
    seg = np.repeat(np.arange(n.size), n)
    k = np.arange(seg.size) - np.repeat(np.cumsum(n) - n, n)
    t0, t1 = k / n[seg], (k + 1) / n[seg]
    dx, dy = bx[seg] - ax[seg], by[seg] - ay[seg]
    px0, px1 = ax[seg] + t0 * dx, ax[seg] + t1 * dx
    py0, py1 = ay[seg] + t0 * dy, ay[seg] + t1 * dy
    # The margin dwarfs interpolation and index rounding, so the marking stays conservative.
    scale = float(np.max(np.abs([ax, ay, bx, by]))) if ax.size else 1.0
    eps = max(1e-6 * cell, 64 * float(np.spacing(scale)))
    c0 = _cell_of(np.minimum(px0, px1) - eps, x0, cell)
    c1 = _cell_of(np.maximum(px0, px1) + eps, x0, cell)
    r0 = _cell_of(np.minimum(py0, py1) - eps, y0, cell)
    r1 = _cell_of(np.maximum(py0, py1) + eps, y0, cell)
    n_areas = np.int64(geoms.size)
    keys = []
    for dc in (0, 1):
        for dr in (0, 1):
            ok = (c0 + dc <= c1) & (r0 + dr <= r1)
            cell_id = (r0[ok] + dr) * np.int64(nx) + (c0[ok] + dc)
            keys.append(cell_id * n_areas + area[seg[ok]])
    uniq = np.unique(np.concatenate(keys))
    return uniq // n_areas, uniq % n_areas


def _centres(grid: F64, cell_ids: I64) -> GeomArray:
    x0, y0, cell, nx, _ = grid
    col, row = cell_ids % np.int64(nx), cell_ids // np.int64(nx)
    points: GeomArray = shapely.points(x0 + (col + 0.5) * cell, y0 + (row + 0.5) * cell)
    return points


def _covering(tree: shapely.STRtree, points: GeomArray) -> tuple[I64, I64]:
    """(point, area) pairs of the areas each point lies in or on (exact GEOS predicate)."""
    pt, area = tree.query(points, predicate="intersects")
    return pt.astype(np.int64), area.astype(np.int64)


def _label_pure_cells(tree: shapely.STRtree, grid: F64, cells: I64) -> tuple[I32, I64]:
    """Raster of pure-cell labels (area or -1) and the sorted ids of the mixed cells."""
    nx, ny = int(grid[3]), int(grid[4])
    mixed_ids = np.unique(cells)
    pure = np.ones(nx * ny, dtype=bool)
    pure[mixed_ids] = False
    component, n_comp = ndimage.label(pure.reshape(ny, nx))
    component = component.reshape(-1)
    rep = np.zeros(n_comp + 1, dtype=np.int64)
    member = np.flatnonzero(component)
    rep[component[member]] = member  # any cell of a component represents it
    pt, area = _covering(tree, _centres(grid, rep[1:]))
    label = np.full(n_comp + 1, _NONE, dtype=np.int64)
    np.minimum.at(label, pt + 1, area)
    label[label == _NONE] = -1
    return label[component].astype(np.int32), mixed_ids


def _backgrounds(tree: shapely.STRtree, grid: F64, mixed: I64, cells: I64, areas: I64) -> I32:
    """Lowest area covering each mixed cell whole (its boundary does not touch the cell), or -1."""
    pt, area = _covering(tree, _centres(grid, mixed))
    n_areas = np.int64(tree.geometries.size)
    touching = cells * n_areas + areas  # sorted: cells and areas come from one sorted key
    key = mixed[pt] * n_areas + area
    at = np.minimum(np.searchsorted(touching, key), touching.size - 1)
    whole = touching[at] != key
    best = np.full(mixed.size, _NONE, dtype=np.int64)
    np.minimum.at(best, pt[whole], area[whole])
    return np.where(best == _NONE, -1, best).astype(np.int32)
