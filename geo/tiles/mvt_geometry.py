"""Geometry command streams of Mapbox Vector Tiles, vectorised with numpy.

Turns clipped shapely geometries into the MVT 2.1 command integers (MoveTo, LineTo, ClosePath
with zigzag-encoded deltas) of every feature at once: points, lines and polygons are put on the
integer tile grid and cleaned as :mod:`geo.tiles.mvt` describes (repeated and closing vertices,
degenerate rings and lines dropped, exterior rings clockwise on screen and holes anticlockwise).
It is kept apart from :mod:`geo.tiles.mvt` because it is the geometry half of the encoder, with
no knowledge of layers, properties or protobuf messages beyond the command integers.
Package-internal: the public API is :mod:`geo.tiles.mvt`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.tiles import protobuf as pb
from geo.tiles.protobuf import I64, U64
from geo.tiles.webmercator import polygon_rings

__all__ = ["Grid", "geometry_stream"]

Grid = Callable[[NDArray[np.float64]], tuple[I64, I64]]

_MOVE_TO, _LINE_TO, _CLOSE_PATH = 1, 2, 7


def geometry_stream(clipped: np.ndarray, dims: I64, grid: Grid) -> tuple[U64, I64]:
    """Command integers of every feature, in feature order, and how many belong to each."""
    segments = []
    for dim, encoder in enumerate((_point_commands, _line_commands, _polygon_commands)):
        index = np.flatnonzero(dims == dim)
        if index.size == clipped.size:
            return encoder(clipped, grid)
        if index.size:
            values, counts = encoder(clipped[index], grid)
            segments.append((values, np.bincount(index, weights=counts, minlength=dims.size)))
    return pb.interleave(segments) if segments else (np.zeros(0, np.uint64), np.zeros(0, np.int64))


def _parts(geoms: np.ndarray, type_ids: tuple[int, ...]) -> tuple[np.ndarray, I64]:
    """Non-empty parts of the wanted shapely types (clipping can mix in other types)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    wanted = np.isin(shapely.get_type_id(parts), type_ids) & ~shapely.is_empty(parts)
    return parts[wanted], owner[wanted]


def _point_commands(geoms: np.ndarray, grid: Grid) -> tuple[U64, I64]:
    parts, owner = _parts(geoms, (0,))
    x, y = grid(shapely.get_coordinates(parts))
    new_feature = _starts(owner)
    slots = 2 + new_feature.astype(np.int64)
    at = np.cumsum(slots) - slots
    out = np.zeros(int(slots.sum()), dtype=np.uint64)
    out[at[new_feature]] = _command(_MOVE_TO, np.bincount(owner)[owner[new_feature]])
    _put_deltas(out, at + new_feature, x, y, new_feature)
    return out, np.bincount(owner, weights=slots, minlength=geoms.size).astype(np.int64)


def _line_commands(geoms: np.ndarray, grid: Grid) -> tuple[U64, I64]:
    parts, owner = _parts(geoms, (1, 2))
    coords, path = shapely.get_coordinates(parts, return_index=True)
    x, y, path = _clean(*grid(coords), path, closed=False)
    keep = np.bincount(path, minlength=parts.size)[path] >= 2
    x, y, path = x[keep], y[keep], path[keep]
    return _path_commands(x, y, path, owner[path], geoms.size, close=False)


def _polygon_commands(geoms: np.ndarray, grid: Grid) -> tuple[U64, I64]:
    coords, ring, ring_part, owner = polygon_rings(geoms)
    exterior = _starts(ring_part)
    x, y, ring = _clean(*grid(coords), ring, closed=True)
    area2 = _shoelace(x, y, ring, ring_part.size)
    good = (np.bincount(ring, minlength=ring_part.size) >= 3) & (area2 != 0)
    part_ok = np.zeros(owner.size, dtype=bool)
    part_ok[ring_part[exterior]] = good[exterior]  # holes go with a collapsed exterior
    good &= part_ok[ring_part]
    order = _reverse_where(ring, good & ((area2 > 0) != exterior))
    keep = order[good[ring]]
    x, y, ring = x[keep], y[keep], ring[keep]
    return _path_commands(x, y, ring, owner[ring_part[ring]], geoms.size, close=True)


def _starts(group: I64) -> NDArray[np.bool_]:
    """True where a run of equal group numbers begins."""
    return np.concatenate([[True], group[1:] != group[:-1]]) if group.size else group.astype(bool)


def _ends(group: I64) -> NDArray[np.bool_]:
    """True where a run of equal group numbers ends."""
    return _starts(group[::-1])[::-1]


def _clean(x: I64, y: I64, path: I64, *, closed: bool) -> tuple[I64, I64, I64]:
    """Drop repeated vertices; for rings also the closing vertex and a final return to the start."""
    if closed:
        keep = ~_ends(path)
        x, y, path = x[keep], y[keep], path[keep]
    same = (x[1:] == x[:-1]) & (y[1:] == y[:-1]) & (path[1:] == path[:-1])
    keep = np.concatenate([[True], ~same]) if x.size else x.astype(bool)
    x, y, path = x[keep], y[keep], path[keep]
    if closed and x.size:
        starts = np.flatnonzero(_starts(path))
        first = np.repeat(starts, np.diff(np.append(starts, path.size)))
        keep = ~(_ends(path) & (x == x[first]) & (y == y[first]))
        x, y, path = x[keep], y[keep], path[keep]
    return x, y, path


def _shoelace(x: I64, y: I64, ring: I64, n_rings: int) -> I64:
    """Twice the signed area of each ring (tile coordinates, y down: clockwise is positive)."""
    following = np.arange(1, x.size + 1)
    following[_ends(ring)] = np.flatnonzero(_starts(ring))
    cross = x * y[following] - x[following] * y
    return np.bincount(ring, weights=cross, minlength=n_rings).astype(np.int64)


def _reverse_where(ring: I64, flip: NDArray[np.bool_]) -> I64:
    """Gather order that reverses the vertices of the rings marked in ``flip``."""
    order = np.arange(ring.size)
    first, last = np.flatnonzero(_starts(ring)), np.flatnonzero(_ends(ring))
    mirror = np.repeat(first + last, last - first + 1) - order
    flipped = flip[ring]
    order[flipped] = mirror[flipped]
    return order


def _command(command_id: int, count: I64 | int) -> U64:
    return np.asarray((np.asarray(count, dtype=np.int64) << 3) | command_id, dtype=np.uint64)


def _put_deltas(out: U64, at: I64, x: I64, y: I64, new_feature: NDArray[np.bool_]) -> None:
    # The cursor starts at (0, 0) for every feature and carries over between its parts.
    dx, dy = np.diff(x, prepend=0), np.diff(y, prepend=0)
    dx[new_feature], dy[new_feature] = x[new_feature], y[new_feature]
    out[at], out[at + 1] = pb.zigzag(dx), pb.zigzag(dy)


def _path_commands(
    x: I64, y: I64, path: I64, owner: I64, n_features: int, *, close: bool
) -> tuple[U64, I64]:
    """MoveTo(1), LineTo(n-1) [, ClosePath] for each path, grouped by owning feature."""
    first, last = _starts(path), _ends(path)
    second = np.concatenate([[False], first[:-1]]) if first.size else first
    slots = 2 + first.astype(np.int64) + second + (last & close)
    at = np.cumsum(slots) - slots
    out = np.zeros(int(slots.sum()), dtype=np.uint64)
    out[at[first]] = _command(_MOVE_TO, 1)
    at = at + first
    out[at[second]] = _command(_LINE_TO, np.flatnonzero(last) - np.flatnonzero(first))
    at = at + second
    _put_deltas(out, at, x, y, _starts(owner))
    if close:
        out[at[last] + 2] = _command(_CLOSE_PATH, 1)
    return out, np.bincount(owner, weights=slots, minlength=n_features).astype(np.int64)
