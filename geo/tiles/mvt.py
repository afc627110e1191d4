"""Mapbox Vector Tile 2.1 encoder with its own protobuf writer, vectorised with numpy.

Features whose envelope meets the buffered tile are clipped to it (``shapely.clip_by_rect``), put
on the integer tile grid (``y`` down, rounded half to even) and cleaned: repeated and closing
vertices, rings with under 3 distinct points or zero area (an exterior takes its holes along) and
lines with under 2 points are dropped. Exterior rings get positive shoelace area in tile
coordinates (clockwise on screen), holes negative. There is no validity repair after rounding; a
ring may touch itself at a vertex, which renderers accept. Command integers and protobuf messages
are flat numpy arrays (a message is a run of varints and raw bytes), written with a few
vectorised varint encodings and scatters, without loops over features or vertices.

A layer without features in the tile is left out (the spec wants at least one feature per layer);
a tile without any feature is ``b""``, the valid encoding of a Tile with no layers.

Layout: this module holds the public API, the tile/layer/feature messages and the properties
table; the geometry command streams are :mod:`geo.tiles.mvt_geometry` and the protobuf writer
:mod:`geo.tiles.protobuf`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.errors import InvalidInput
from geo.tiles import protobuf as pb
from geo.tiles.mvt_geometry import Grid, geometry_stream
from geo.tiles.protobuf import I64, U8, U64
from geo.tiles.webmercator import (
    ABSOLUTE_MAX_ZOOM,
    buffered_tile_bounds,
    in_bounds,
    to_tile_grid,
    validate_tile,
)

__all__ = ["VectorLayer", "encode_tile"]

# Protobuf keys, (field number << 3) | wire type, of vector_tile.proto 2.1.
_TILE_LAYERS, _LAYER_NAME, _LAYER_FEATURE, _LAYER_KEY, _LAYER_VALUE = 26, 10, 18, 26, 34
_LAYER_EXTENT, _LAYER_VERSION = 40, 120
_FEATURE_ID, _FEATURE_TAGS, _FEATURE_TYPE, _FEATURE_GEOMETRY = 8, 18, 24, 34
_VALUE_STRING, _VALUE_DOUBLE, _VALUE_INT, _VALUE_SINT, _VALUE_BOOL = 10, 25, 32, 48, 56
_STRING, _INT, _FLOAT, _BOOL = range(4)  # property kinds, in the order of the values table
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, eq=False)
class VectorLayer:
    """One named layer of a vector tile.

    Attributes
    ----------
    name : str
        Layer name, unique within a tile.
    geometries : numpy.ndarray
        Shapely geometries in EPSG:3857 metres (points, lines, polygons and their multi-forms).
    properties : dict of str to numpy.ndarray
        Column name to one value per geometry: str, int (int64 range), float or bool, as numpy
        dtypes or object arrays of Python scalars. None and NaN are left out of the feature.
    ids : numpy.ndarray, optional
        Non-negative integer feature ids (uint64 in the tile).

    Raises
    ------
    InvalidInput
        Empty name, or columns/ids not one per geometry, or negative/non-integer ids.
    """

    name: str
    geometries: np.ndarray
    properties: dict[str, np.ndarray]
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput("a vector layer needs a non-empty name")
        geometries = np.asarray(self.geometries, dtype=object).ravel()
        columns = {str(key): np.asarray(column).ravel() for key, column in self.properties.items()}
        if any(column.size != geometries.size for column in columns.values()):
            raise InvalidInput(f"layer {self.name}: every property needs one value per geometry")
        object.__setattr__(self, "geometries", geometries)
        object.__setattr__(self, "properties", columns)
        if self.ids is not None:
            ids = np.asarray(self.ids).ravel()
            if ids.size != geometries.size or ids.dtype.kind not in "iu" or (ids < 0).any():
                raise InvalidInput(f"layer {self.name}: ids must be one non-negative int each")
            object.__setattr__(self, "ids", ids.astype(np.uint64))


def encode_tile(
    layers: Sequence[VectorLayer], z: int, x: int, y: int, extent: int = 4096, buffer_px: int = 64
) -> bytes:
    """Encode layers as one Mapbox Vector Tile (specification 2.1).

    Parameters
    ----------
    layers : sequence of VectorLayer
        Layers with geometries in EPSG:3857.
    z, x, y : int
        XYZ tile address.
    extent : int, default 4096
        Tile grid resolution (units per tile side).
    buffer_px : int, default 64
        Clip margin around the tile in tile grid units (64 of 4096 is 1/64 of the tile side).

    Returns
    -------
    bytes
        The protobuf-encoded tile; ``b""`` when no feature reaches the tile.

    Raises
    ------
    InvalidInput
        Invalid tile address, extent or buffer, repeated layer names, or property values of an
        unsupported type.
    """
    validate_tile(z, x, y, max_zoom=ABSOLUTE_MAX_ZOOM)
    for name, value, low in (("extent", extent, 1), ("buffer_px", buffer_px, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 1 << 20:
            raise InvalidInput(f"{name} must be an integer from {low} to 2**20, not {value!r}")
    if len({layer.name for layer in layers}) != len(layers):
        raise InvalidInput("layer names must be unique within a tile")
    clip_box = buffered_tile_bounds(z, x, y, buffer_px, extent)

    def grid(coords: NDArray[np.float64]) -> tuple[I64, I64]:
        column, row = to_tile_grid(coords, z, x, y, extent)
        return np.rint(column).astype(np.int64), np.rint(row).astype(np.int64)

    encoded = (_encode_layer(layer, grid, clip_box, extent) for layer in layers)
    return b"".join(pb.field(_TILE_LAYERS, body) for body in encoded if body)


def _encode_layer(
    layer: VectorLayer, grid: Grid, clip_box: tuple[float, float, float, float], extent: int
) -> bytes:
    rows = in_bounds(layer.geometries, clip_box)
    dims = shapely.get_dimensions(layer.geometries[rows]).astype(np.int64)
    clipped = shapely.clip_by_rect(layer.geometries[rows], *clip_box)
    geometry, geometry_counts = geometry_stream(clipped, dims, grid)
    kept = geometry_counts > 0
    if not kept.any():
        return b""
    tags, tag_counts, values = _properties(layer.properties, rows[kept])
    features = _features(
        geometry,
        geometry_counts[kept],
        (dims[kept] + 1).astype(np.uint64),  # MVT types: 1 point, 2 line, 3 polygon
        (tags, tag_counts),
        None if layer.ids is None else layer.ids[rows[kept]],
    )
    keys = b"".join(pb.field(_LAYER_KEY, key.encode()) for key in layer.properties)
    tail = pb.scalars(_LAYER_EXTENT, extent, _LAYER_VERSION, 2)
    return (
        pb.field(_LAYER_NAME, layer.name.encode())
        + features.tobytes()
        + keys
        + values.tobytes()
        + tail
    )


def _features(
    geometry: U64, geometry_counts: I64, geom_type: U64, tags: tuple[U64, I64], ids: U64 | None
) -> U8:
    """Feature messages (id, tags, type, geometry), each wrapped as a Layer.features field."""
    n = geometry_counts.size
    item = np.arange(n)
    tag_values, tag_counts = tags
    tag_bytes = np.bincount(np.repeat(item, tag_counts), pb.varint_sizes(tag_values), n)
    geom_bytes = np.bincount(np.repeat(item, geometry_counts), pb.varint_sizes(geometry), n)
    has_tags = tag_counts > 0
    id_pairs = np.zeros((0, 2)) if ids is None else np.column_stack([np.full(n, _FEATURE_ID), ids])
    tag_head = np.column_stack([np.full(n, _FEATURE_TAGS), tag_bytes])[has_tags]
    type_head = np.column_stack(
        [np.full(n, _FEATURE_TYPE), geom_type, np.full(n, _FEATURE_GEOMETRY), geom_bytes]
    )
    stream, per_feature = pb.interleave(
        [
            (id_pairs.astype(np.uint64).ravel(), np.full(n, 0 if ids is None else 2)),
            (tag_head.astype(np.uint64).ravel(), np.where(has_tags, 2, 0)),
            (tag_values, tag_counts),
            (type_head.astype(np.uint64).ravel(), np.full(n, 4)),
            (geometry, geometry_counts),
        ]
    )
    encoded, sizes = pb.varints(stream)
    return pb.prefixed(_LAYER_FEATURE, encoded, np.bincount(np.repeat(item, per_feature), sizes, n))


# --- properties -------------------------------------------------------------------------------


def _properties(properties: dict[str, np.ndarray], rows: I64) -> tuple[U64, I64, U8]:
    """Tags of each feature (key, value index pairs) and the layer's deduplicated values table."""
    cells: dict[int, list[tuple[I64, int, np.ndarray]]] = {kind: [] for kind in range(4)}
    for key_index, column in enumerate(properties.values()):
        for kind, (where, values) in _split_column(column[rows]).items():
            cells[kind].append((where, key_index, values))
    feature: list[I64] = []
    key: list[I64] = []
    value: list[I64] = []
    inner: list[U8] = []
    sizes: list[I64] = []
    for kind in (_STRING, _INT, _FLOAT, _BOOL):
        if cells[kind]:
            distinct, inverse = np.unique(
                np.concatenate([v for _, _, v in cells[kind]]), return_inverse=True
            )
            value.append(inverse.ravel() + sum(s.size for s in sizes))
            feature += [w for w, _, _ in cells[kind]]
            key += [np.full(w.size, k) for w, k, _ in cells[kind]]
            kind_bytes, kind_sizes = _value_messages(kind, distinct)
            inner.append(kind_bytes)
            sizes.append(kind_sizes)
    if not value:
        return np.zeros(0, np.uint64), np.zeros(rows.size, np.int64), np.zeros(0, np.uint8)
    feature_all, key_all, value_all = (np.concatenate(a) for a in (feature, key, value))
    order = np.lexsort((key_all, feature_all))
    tags = np.column_stack([key_all[order], value_all[order]]).astype(np.uint64).ravel()
    tag_counts = 2 * np.bincount(feature_all, minlength=rows.size).astype(np.int64)
    return tags, tag_counts, pb.prefixed(_LAYER_VALUE, np.concatenate(inner), np.concatenate(sizes))


def _kind_of(value: object) -> int:
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return -1
    if isinstance(value, bool | np.bool_):
        return _BOOL
    if isinstance(value, int | np.integer) and _INT64[0] <= value <= _INT64[1]:
        return _INT
    if isinstance(value, float | np.floating | str):
        return _FLOAT if not isinstance(value, str) else _STRING
    raise InvalidInput(f"property values must be str, int64, float, bool or None, not {value!r}")


_KIND_OF = np.frompyfunc(_kind_of, 1, 1)
_CAST: dict[int, type] = {_STRING: str, _INT: np.int64, _FLOAT: np.float64, _BOOL: np.bool_}


def _split_column(column: np.ndarray) -> dict[int, tuple[I64, np.ndarray]]:
    """Positions and typed values of the present cells of one column, by value kind."""
    cells = column.astype(object)
    codes = _KIND_OF(cells).astype(np.int64) if cells.size else np.zeros(0, np.int64)
    split: dict[int, tuple[I64, np.ndarray]] = {}
    for kind, cast in _CAST.items():
        where = np.flatnonzero(codes == kind)
        if where.size:
            split[kind] = (where, cells[where].astype(cast))
    return split


def _value_messages(kind: int, distinct: np.ndarray) -> tuple[U8, I64]:
    """Value messages for the distinct values of one kind (string/int/sint/double/bool)."""
    n = distinct.size
    if kind == _STRING:
        encoded = np.char.encode(distinct.astype(str), "utf-8")
        lengths = np.char.str_len(encoded).astype(np.int64)
        matrix = np.frombuffer(encoded.tobytes(), np.uint8).reshape(n, -1)
        text = matrix[np.arange(matrix.shape[1]) < lengths[:, None]]
        inner = pb.prefixed(_VALUE_STRING, text, lengths)
        return inner, lengths + 1 + pb.varint_sizes(lengths.astype(np.uint64))
    if kind == _FLOAT:
        raw = distinct.astype("<f8").view(np.uint8).reshape(n, 8)
        inner = np.column_stack([np.full(n, _VALUE_DOUBLE, dtype=np.uint8), raw]).ravel()
        return inner, np.full(n, 9, dtype=np.int64)
    numbers = distinct.astype(np.int64)
    payload = numbers.astype(np.uint64)
    payload[numbers < 0] = pb.zigzag(numbers[numbers < 0])
    field = np.where(numbers < 0, _VALUE_SINT, _VALUE_BOOL if kind == _BOOL else _VALUE_INT)
    inner, pair_sizes = pb.varints(np.column_stack([field, payload]).astype(np.uint64).ravel())
    return inner, pair_sizes.reshape(-1, 2).sum(axis=1)
