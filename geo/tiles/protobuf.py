"""Protobuf wire-format writer over numpy arrays: varints, zigzag, length-delimited fields.

A message is built as flat numpy arrays (a run of varints and raw bytes) with a few vectorised
varint encodings and scatters, without loops over the items encoded. It is kept apart from
:mod:`geo.tiles.mvt` because it knows nothing of vector tiles: it is the generic half of the
encoder (protobuf encoding rules), while ``mvt`` holds the Mapbox Vector Tile schema (field
numbers, message layout, value types). Package-internal: the public API is :mod:`geo.tiles.mvt`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "I64",
    "U8",
    "U64",
    "field",
    "interleave",
    "prefixed",
    "scalars",
    "varint_sizes",
    "varints",
    "zigzag",
]

U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]
U8 = NDArray[np.uint8]


def interleave(segments: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, I64]:
    """Concatenate per-item runs of several segments: item 0 of each segment, then item 1, ...

    Each segment is ``(flat values ordered by item, count per item)``; one scatter places them.
    """
    counts = np.stack([np.asarray(c, dtype=np.int64) for _, c in segments])
    by_segment, by_item = counts.ravel(), counts.T.ravel()
    target = (np.cumsum(by_item) - by_item).reshape(counts.shape[1], -1).T.ravel()
    source = np.cumsum(by_segment) - by_segment
    values = np.concatenate([v for v, _ in segments])
    out = np.empty_like(values)
    out[np.repeat(target - source, by_segment) + np.arange(values.size)] = values
    return out, counts.sum(axis=0)


_VARINT_LIMITS = np.uint64(1) << np.arange(7, 64, 7, dtype=np.uint64)


def varints(values: U64) -> tuple[U8, I64]:
    """Protobuf base-128 varints of ``values``, concatenated, and each one's byte size."""
    values = np.asarray(values, dtype=np.uint64)
    sizes = varint_sizes(values)
    column = np.arange(int(sizes.max()) if values.size else 1)
    groups = (values[:, None] >> (column * 7).astype(np.uint64)) & np.uint64(0x7F)
    groups |= np.where(column < sizes[:, None] - 1, 0x80, 0).astype(np.uint64)
    return groups[column < sizes[:, None]].astype(np.uint8), sizes


def varint_sizes(values: U64) -> I64:
    """Byte size (1 to 10) of the protobuf varint of each of ``values``."""
    return np.searchsorted(_VARINT_LIMITS, values, side="right").astype(np.int64) + 1


def scalars(*values: int) -> bytes:
    """Varints of a few Python ints (per-layer scalars: numpy would only add overhead)."""
    out = bytearray()
    for value in values:
        rest = value
        while rest >= 0x80:
            out.append(rest & 0x7F | 0x80)
            rest >>= 7
        out.append(rest)
    return bytes(out)


def field(key: int, payload: bytes) -> bytes:
    """One length-delimited field: varint ``key``, varint ``len(payload)``, then ``payload``."""
    return scalars(key, len(payload)) + payload


def prefixed(key: int, payload: U8, sizes: I64) -> U8:
    """Length-delimited fields ``key, len, payload`` for consecutive payloads of ``sizes`` bytes."""
    header_bytes, header_sizes = varints(
        np.column_stack([np.full(sizes.size, key), sizes]).astype(np.uint64).ravel()
    )
    per_item = header_sizes.reshape(-1, 2).sum(axis=1)
    return interleave([(header_bytes, per_item), (payload, sizes)])[0]


def zigzag(value: I64) -> U64:
    """Protobuf ``sint64`` zigzag encoding (0, -1, 1, -2, ... to 0, 1, 2, 3, ...)."""
    return ((value << 1) ^ (value >> 63)).astype(np.uint64)
