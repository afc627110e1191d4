"""Reading partner files as delivered: CSV, .csv.gz, .zip of CSVs, folders; any common encoding.

Every data row is accounted for: rows the CSV parser cannot split into the header's columns come
back as malformed with their record number, never silently dropped. Record numbers count data rows
from 1 (the header is not a record; blank lines are not records).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from app.errors import BadRequest, PayloadTooLarge, UnreadableFile

CSV_SUFFIXES = (".csv", ".txt", ".tsv")


@dataclass(frozen=True)
class SourceFile:
    """One incident file's decompressed bytes, a display name and its content hash."""

    name: str
    data: bytes
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        # The identity of a batch: the same content re-sent is the same batch.
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())


class Columns(Mapping[str, np.ndarray]):
    """String columns by name, trimmed and turned into numpy object arrays only when asked for.

    A partner file can carry dozens of columns a profile never reads; converting each to Python
    strings cost more than all the rest of cleaning.
    """

    def __init__(self, arrow: dict[str, pa.Array | pa.ChunkedArray]) -> None:
        self._arrow = arrow
        self._numpy: dict[str, np.ndarray] = {}

    @classmethod
    def from_numpy(cls, columns: dict[str, np.ndarray]) -> Columns:
        out = cls({h: pa.array(v, pa.string()) for h, v in columns.items()})
        out._numpy.update(columns)
        return out

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._numpy:
            self._numpy[name] = _strip(self._arrow[name])
        return self._numpy[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrow)

    def __len__(self) -> int:
        return len(self._arrow)

    def arrow(self, name: str) -> pa.Array | pa.ChunkedArray:
        """The column as Arrow strings (untrimmed), for vectorised whole-row work."""
        return self._arrow[name]


@dataclass
class RawTable:
    """A CSV split into string columns; ``source_row`` numbers the rows kept."""

    header: list[str]
    columns: Columns
    source_row: np.ndarray
    malformed: list[tuple[int, str, str]] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def n_rows(self) -> int:
        return len(self.source_row)

    def fields_at(self, rows: np.ndarray) -> list[np.ndarray]:
        """Every column's (trimmed) values at ``rows`` (positions or mask), in header order."""
        index = pa.array(np.flatnonzero(rows) if rows.dtype == bool else rows, pa.int64())
        return [_strip(self.columns.arrow(h).take(index)) for h in self.header]


def collect_sources(paths: list[Path], max_bytes: int) -> list[SourceFile]:
    """The incident files under ``paths`` (files, folders read recursively, zips, gzip).

    Raises BadRequest for a path that does not exist or holds no CSV; UnreadableFile for a
    corrupt archive.
    """
    out: list[SourceFile] = []
    for path in paths:
        if not path.exists():
            raise BadRequest(f"no such file or folder: {path}")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found = [s for f in files for s in _open_path(f, max_bytes, strict=not path.is_dir())]
        if not found:
            raise BadRequest(f"no CSV files found in {path}")
        out.extend(found)
    return out


def _open_path(path: Path, max_bytes: int, strict: bool) -> Iterator[SourceFile]:
    name = path.name.lower()
    if name.endswith(".zip"):
        yield from read_zip(path.name, path.read_bytes(), max_bytes)
    elif name.endswith(".gz"):
        yield SourceFile(path.name[:-3], gunzip(path.name, path.read_bytes(), max_bytes))
    elif name.endswith(CSV_SUFFIXES) or strict:
        if path.stat().st_size > max_bytes:
            raise PayloadTooLarge(f"{path.name} is larger than the {max_bytes // 2**20} MB limit")
        yield SourceFile(path.name, path.read_bytes())


def open_upload(filename: str, data: bytes, max_bytes: int) -> SourceFile:
    """The one incident file of an HTTP upload (plain, gzip, or a zip holding one CSV).

    A zip's member list is checked before any member is decompressed, so an archive of several
    large members costs nothing to refuse.

    Raises UnreadableFile (corrupt data; a zip holding more than one CSV), BadRequest (a zip
    holding no CSV), PayloadTooLarge (output beyond ``max_bytes``).
    """
    lower = filename.lower()
    if lower.endswith(".zip"):
        return read_zip(filename, data, max_bytes, max_members=1)[0]
    if lower.endswith(".gz") or data[:2] == b"\x1f\x8b":
        return SourceFile(filename.removesuffix(".gz"), gunzip(filename, data, max_bytes))
    return SourceFile(filename, data)


def gunzip(name: str, data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip data, refusing more than ``max_bytes`` of output (gzip bombs)."""
    try:
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(data, max_bytes + 1)
        if len(out) > max_bytes:
            raise PayloadTooLarge(f"{name} decompresses to more than {max_bytes // 2**20} MB")
        if not d.eof:
            raise UnreadableFile(f"{name}: gzip data is truncated")
        return out
    except zlib.error as exc:
        raise UnreadableFile(f"{name}: not valid gzip data ({exc})") from exc


def read_zip(
    name: str, data: bytes, max_bytes: int, max_members: int | None = None
) -> list[SourceFile]:
    """The CSV members of a zip (police.uk downloads), in name order.

    Each member is decompressed through a stream that stops after ``max_bytes`` (+1): the sizes
    a zip's headers declare are not trusted. With ``max_members``, an archive holding more CSV
    members is refused before any is decompressed.

    Raises BadRequest (no CSV member), PayloadTooLarge (a member beyond ``max_bytes``),
    UnreadableFile (corrupt zip; more CSV members than ``max_members``).
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = _csv_members(name, zf, max_members)
        return [_read_member(name, zf, info, max_bytes) for info in members]
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a compression zipfile lacks.
        raise UnreadableFile(f"{name}: not a readable zip file ({exc})") from exc


def _csv_members(name: str, zf: zipfile.ZipFile, limit: int | None) -> list[zipfile.ZipInfo]:
    members = sorted(
        (
            i
            for i in zf.infolist()
            if not i.is_dir() and i.filename.lower().endswith((*CSV_SUFFIXES, ".gz"))
        ),
        key=lambda info: info.filename,
    )
    if not members:
        raise BadRequest(f"{name} holds no CSV files")
    if limit is not None and len(members) > limit:
        listed = ", ".join(i.filename for i in members[:5]) + (", ..." if len(members) > 5 else "")
        raise UnreadableFile(
            f"{name} holds {len(members)} CSV files ({listed}); upload one CSV per request "
            "(a zip of several files can be loaded with `atlas ingest`)"
        )
    return members


def _read_member(
    name: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int
) -> SourceFile:
    too_big = PayloadTooLarge(f"{info.filename} in {name} is larger than {max_bytes // 2**20} MB")
    if info.file_size > max_bytes:
        # An honest header lets a large member be refused without decompressing it.
        raise too_big
    with zf.open(info) as stream:
        body = stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise too_big
    member = Path(info.filename).name
    if member.lower().endswith(".gz"):
        return SourceFile(member[:-3], gunzip(member, body, max_bytes))
    return SourceFile(member, body)


#: Byte-order marks, checked before anything else looks at the bytes (UTF-16 text is full of NULs).
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_text(data: bytes) -> tuple[bytes, str]:
    """UTF-8 bytes of the file and the encoding it arrived in.

    UTF-8 with or without BOM, UTF-16 (little or big endian) with BOM, else cp1252.
    Raises UnreadableFile for UTF-16 that does not decode.
    """
    bom, encoding = next(((b, e) for b, e in _BOMS if data.startswith(b)), (b"", "utf-8"))
    if not bom:
        try:
            data.decode("utf-8")
            return data, "utf-8"
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace").encode("utf-8"), "cp1252"
    if encoding == "utf-8-sig":
        return data[len(bom) :], encoding
    try:
        return data[len(bom) :].decode(encoding).encode("utf-8"), encoding
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"text starts with a {encoding} byte-order mark but is not {encoding}"
        ) from exc


def read_table(source: SourceFile, delimiter: str = ",") -> RawTable:
    """Split a CSV into string columns; malformed rows are returned, not dropped.

    Raises UnreadableFile for an empty file, binary data, or a header with blank/duplicate names.
    """
    try:
        text, encoding = decode_text(source.data)
    except UnreadableFile as exc:
        raise UnreadableFile(f"{source.name}: {exc.detail}") from exc
    # After BOM detection: NULs in what is now UTF-8 mean binary data, not a CSV.
    if b"\x00" in text[:65536]:
        raise UnreadableFile(f"{source.name}: binary data, not a CSV file")
    header = _header(source.name, text, delimiter)
    table = _fast_parse(text, header, delimiter)
    if table is None:
        table = _careful_parse(text, header, delimiter)
        _refuse_truncated(source.name, text, table)
    if table.n_rows == 0 and not table.malformed:
        raise UnreadableFile(f"{source.name}: no data rows, only a header")
    table.encoding = encoding
    return table


def _refuse_truncated(name: str, text: bytes, table: RawTable) -> None:
    """A file whose last record is short and has no line break after it was cut off (a failed
    download or copy): loading its first part would silently replace a whole month."""
    if not table.malformed or text.rstrip(b" \t").endswith((b"\n", b"\r")):
        return
    last_kept = int(table.source_row.max()) if table.n_rows else 0
    number, reason, _raw = table.malformed[-1]
    if number > last_kept:
        raise UnreadableFile(
            f"{name}: the last record ({number}) {reason} and the file does not end with a line "
            "break: it looks truncated, so nothing was loaded (if the file is complete, fix its "
            "last record)"
        )


def _header(name: str, text: bytes, delimiter: str) -> list[str]:
    first = next(
        csv.reader(io.StringIO(text[:1_000_000].decode("utf-8", "replace")), delimiter=delimiter),
        None,
    )
    if not first or not any(h.strip() for h in first):
        raise UnreadableFile(f"{name}: empty file (no header row)")
    header = [h.strip() for h in first]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes or "" in header:
        problem = f"duplicate column names {dupes}" if dupes else "a column without a name"
        raise UnreadableFile(f"{name}: header has {problem}")
    return header


def _fast_parse(text: bytes, header: list[str], delimiter: str) -> RawTable | None:
    """pyarrow's multithreaded parser; None when any row is malformed (its row numbers are lost)."""
    bad: list[object] = []

    def on_invalid(row: object) -> str:
        bad.append(row)
        return "skip"

    try:
        tbl = pacsv.read_csv(
            io.BytesIO(text),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if bad:
        return None
    columns = Columns({h: tbl.column(h) for h in header})
    return RawTable(header, columns, np.arange(1, tbl.num_rows + 1, dtype=np.int64))


def _strip(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.utf8_trim_whitespace(col).to_numpy(zero_copy_only=False), dtype=object)


def _careful_parse(text: bytes, header: list[str], delimiter: str) -> RawTable:
    """Python's csv module: exact record numbers for files with malformed rows."""
    reader = csv.reader(io.StringIO(text.decode("utf-8", "replace")), delimiter=delimiter)
    next(reader, None)
    rows: list[list[str]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, str, str]] = []
    n = 0
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            n += 1
            if len(record) != len(header):
                reason = f"has {len(record)} fields, the header has {len(header)}"
                malformed.append((n, reason, delimiter.join(record)))
                continue
            rows.append(record)
            numbers.append(n)
    except csv.Error as exc:
        raise UnreadableFile(f"CSV cannot be parsed after record {n}: {exc}") from exc
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    columns = {
        h: np.array([v.strip() for v in cols[i]], dtype=object) for i, h in enumerate(header)
    }
    return RawTable(
        header, Columns.from_numpy(columns), np.array(numbers, dtype=np.int64), malformed
    )
