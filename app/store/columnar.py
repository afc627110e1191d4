"""One batch's incidents as one compressed Arrow IPC file, and 64-bit hashes of record ids.

A batch never changes once written (a correction is a new batch), so its incidents are stored
column-wise in one value: writing 80,000 incidents is one insert, and loading a dataset reads
only the columns asked for, with no Python work per incident. No SQL here.

Column conventions (see :data:`app.store.records.INCIDENT_COLUMNS`): metres are stored as
nullable int32 and come back as float64 with NaN; text is dictionary-encoded and empty text is
stored as null (``None`` on the way out); times are nullable ``timestamp[s]`` (NaT on the way out).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import ipc

from app.errors import StoreError
from app.store.records import INCIDENT_COLUMNS

#: Bumped when the layout changes; a reader refuses a format it does not know.
FORMAT = "1"
_META_KEY = b"atlas.incidents.format"
#: Dictionary-encoding pays off for text with few distinct values; ids and free text stay plain.
_PLAIN_TEXT = frozenset({"source_id", "location_text"})
_WRITE_OPTIONS = ipc.IpcWriteOptions(compression="zstd")


def _arrow_type(name: str, kind: str) -> pa.DataType:
    if kind == "float64":  # metres, rounded on the way in
        return pa.int32()
    if kind.startswith("datetime64"):
        return pa.timestamp("s")
    if kind == "int64":
        return pa.int64()
    return pa.string() if name in _PLAIN_TEXT else pa.dictionary(pa.int32(), pa.string())


SCHEMA = pa.schema(
    [pa.field(n, _arrow_type(n, k)) for n, k in INCIDENT_COLUMNS.items()],
    metadata={_META_KEY: FORMAT.encode()},
)


def _to_arrow(values: np.ndarray, name: str, kind: str) -> pa.Array:
    target = SCHEMA.field(name).type
    if kind == "float64":
        finite = np.isfinite(values)
        ints = np.where(finite, np.round(np.where(finite, values, 0.0)), 0).astype(np.int32)
        return pa.array(ints, type=pa.int32(), mask=~finite)
    if kind.startswith("datetime64"):
        stamps = values.astype("datetime64[s]")
        return pa.array(stamps, type=target, mask=np.isnat(stamps))
    if kind == "int64":
        return pa.array(np.asarray(values, dtype=np.int64))
    text = pa.array(values, type=pa.string(), from_pandas=True)
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    return text.dictionary_encode() if pa.types.is_dictionary(target) else text


def encode(columns: dict[str, np.ndarray]) -> bytes:
    """Serialise one batch's incident columns (every name in ``INCIDENT_COLUMNS``)."""
    arrays = [_to_arrow(columns[n], n, k) for n, k in INCIDENT_COLUMNS.items()]
    table = pa.Table.from_arrays(arrays, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, SCHEMA, options=_WRITE_OPTIONS) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _from_arrow(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    if kind == "float64":
        return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if kind.startswith("datetime64"):
        return np.asarray(column.to_numpy(), dtype="datetime64[s]")
    if kind == "int64":
        return np.asarray(column.to_numpy(), dtype=np.int64)
    if pa.types.is_dictionary(column.type):
        # Decode once per distinct value, then index: no Python object made per incident.
        combined = column.unify_dictionaries().combine_chunks()
        words = np.asarray(combined.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        codes = combined.indices.fill_null(-1).to_numpy()
        lookup = np.empty(len(words) + 1, dtype=object)  # the last slot (code -1) is None
        lookup[:-1] = words
        return np.asarray(lookup[codes], dtype=object)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def decode_tables(blobs: Sequence[bytes], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named columns of several batches, concatenated in the given order."""
    wanted = [SCHEMA.get_field_index(n) for n in names]
    if any(i < 0 for i in wanted):
        raise StoreError(f"unknown incident columns: {sorted(set(names) - set(SCHEMA.names))}")
    options = ipc.IpcReadOptions(included_fields=sorted(wanted))
    tables = [_read(blob, options) for blob in blobs]
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table().select(list(names))
    return {n: _from_arrow(table.column(n), INCIDENT_COLUMNS[n]) for n in names}


def _read(blob: bytes, options: ipc.IpcReadOptions) -> pa.Table:
    reader = ipc.open_file(pa.py_buffer(blob), options=options)
    found = (reader.schema.metadata or {}).get(_META_KEY)
    if found != FORMAT.encode():
        raise StoreError(f"stored incidents are in format {found!r}; this version reads {FORMAT}")
    return reader.read_all()


# -- record-id hashes --------------------------------------------------------------------------

_MULT = np.uint64(0x100000001B3)  # FNV-1 64-bit prime: odd, so powers never vanish mod 2**64
_HASH_CHUNK = 250_000


def id_hashes(ids: np.ndarray) -> np.ndarray:
    """Sorted distinct 64-bit hashes of the non-empty record ids (little-endian uint64).

    Equal ids always hash equally; different ids rarely do, so a hit is confirmed against the
    ids themselves (:func:`hash_strings` is a filter, never the answer).
    """
    text = pa.array(np.asarray(ids, dtype=object), type=pa.string(), from_pandas=True)
    text = pc.filter(text, pc.and_kleene(pc.is_valid(text), pc.not_equal(text, "")))
    return np.unique(hash_strings(text)).astype("<u8")


def hash_strings(text: pa.Array) -> np.ndarray:
    """64-bit hash of every string (no nulls): a polynomial over its UTF-8 bytes, mixed."""
    parts = [
        _hash_chunk(text.slice(start, _HASH_CHUNK)) for start in range(0, len(text), _HASH_CHUNK)
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


def _hash_chunk(text: pa.Array) -> np.ndarray:
    binary = text.cast(pa.large_binary())
    offsets = np.frombuffer(
        binary.buffers()[1], dtype=np.int64, count=len(binary) + 1, offset=binary.offset * 8
    )
    data = np.frombuffer(binary.buffers()[2] or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets)
    ends = (offsets[1:] - offsets[0])[np.repeat(np.arange(len(lengths)), lengths)]
    from_end = ends - 1 - np.arange(len(data))
    powers = _powers(int(lengths.max()) if len(lengths) else 0)
    with np.errstate(over="ignore"):
        terms = data.astype(np.uint64) * powers[from_end]
        sums = np.zeros(len(lengths), dtype=np.uint64)
        nonempty = lengths > 0
        if nonempty.any():
            starts = (offsets[:-1] - offsets[0])[nonempty]
            sums[nonempty] = np.add.reduceat(terms, starts)
        return _mix(sums ^ (lengths.astype(np.uint64) << np.uint64(56)))


def _powers(n: int) -> np.ndarray:
    out = np.ones(max(n, 1), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(1, n):  # once per distinct length, not per id
            out[i] = out[i - 1] * _MULT
    return out


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)
