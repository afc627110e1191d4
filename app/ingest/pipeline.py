"""The ingest pipeline: one partner file in, one atomic batch (or a clean error) out.

Stages: identify (content hash: re-sending is a no-op) -> read -> parse dates and categories ->
locate -> plausibility (partnership area, distance) -> duplicates and corrections -> assign to every
boundary version -> write atomically. Every row read ends up accepted, a duplicate, or rejected
with a reason: ``rows_read = accepted + duplicates + sum(rejected)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.errors import BatchExists, Conflict, ProfileError
from app.ingest.fields import When, parse_categories, parse_when
from app.ingest.locate import Located, locate
from app.ingest.profiles import Profile
from app.ingest.reader import RawTable, SourceFile, read_table
from app.ingest.report import Rejects, count_reasons
from app.services.areas import AreaCatalogue, Partnership
from app.services.geocoding import Geocoder
from app.store import Store
from app.store.records import BatchRecord, DatasetRecord, IncidentColumns, NewBatch

FLAG_IDENTICAL_ROW = 1
FLAG_OUTSIDE_AREA = 2

Progress = Callable[[str], None]


@dataclass
class IngestContext:
    """What the pipeline needs from the application."""

    store: Store
    geocoder: Geocoder
    areas: AreaCatalogue
    max_distance_km: float
    today: date
    progress: Progress = field(default=lambda _stage: None)


@dataclass
class Outcome:
    """One file's result: the batch written (or already held) and its report."""

    batch: BatchRecord
    report: dict[str, Any]


def read_checked(source: SourceFile, profile: Profile) -> RawTable:
    """Read a file and check it has the profile's columns (UnreadableFile, ProfileError)."""
    table = read_table(source, profile.delimiter)
    _check_columns(table, profile)
    return table


@dataclass(frozen=True)
class PreparedBatch:
    """A cleaned, geocoded and assigned batch, ready to be written in one transaction."""

    new: NewBatch
    incidents: IncidentColumns
    assignments: dict[int, np.ndarray]


def ingest_source(
    ctx: IngestContext,
    dataset: DatasetRecord,
    source: SourceFile,
    table: RawTable,
    profile: Profile,
    partner: str,
    idempotency_key: str | None = None,
) -> Outcome:
    """Ingest one read file into ``dataset`` atomically (Conflict for a partial correction)."""
    held = ctx.store.batches.find_active_by_sha(dataset.id, source.sha256)
    if held is not None:
        return Outcome(held, {**held.report, "status": "already_ingested"})
    prepared = prepare_batch(ctx, dataset, source, table, profile, partner, idempotency_key)
    ctx.progress(f"writing {source.name}")
    try:
        batch = ctx.store.batches.write(
            dataset.id, prepared.new, prepared.incidents, prepared.assignments
        )
    except BatchExists:
        # Another upload of the same file won the race: this one is a no-op, as a re-send is.
        held = ctx.store.batches.find_active_by_sha(dataset.id, source.sha256)
        if held is None:
            raise
        return Outcome(held, {**held.report, "status": "already_ingested"})
    return Outcome(batch, batch.report)


def prepare_batch(
    ctx: IngestContext,
    dataset: DatasetRecord,
    source: SourceFile,
    table: RawTable,
    profile: Profile,
    partner: str,
    idempotency_key: str | None = None,
) -> PreparedBatch:
    """Everything but the write: clean, locate, check plausibility, duplicates and corrections,
    and assign to every boundary version. Reads the store; never writes it."""
    ctx.progress(f"cleaning {source.name}")
    rows = _clean(ctx, table, profile)
    months = _distinct(rows.when.month[rows.keep])
    stream = _stream(table, profile, partner, rows.keep)
    replaced = _replaced_batches(ctx.store, dataset, stream, months)
    replaces = tuple(b.id for b in replaced)
    dup = _duplicates(ctx.store, dataset, table, profile, rows.keep, replaces)
    accepted = rows.keep & ~dup
    ctx.progress(f"assigning {source.name}")
    incidents = _incidents(table, profile, rows, accepted)
    assignments = ctx.areas.assign_all(incidents["easting"], incidents["northing"])
    report = _report(source, table, profile, rows, accepted, dup, months, replaced)
    new = NewBatch(
        dataset=dataset.name,
        partner=partner,
        stream=stream,
        filename=source.name,
        sha256=source.sha256,
        idempotency_key=idempotency_key,
        profile=profile.name,
        status=report["status"],
        months=months,
        report=report,
        rejects_csv=_rejects(table, rows, dup).to_csv(),
        replaces=replaces,
    )
    return PreparedBatch(new, incidents, assignments)


def _check_columns(table: RawTable, profile: Profile) -> None:
    missing = [c for c in profile.required_columns() if c not in table.columns]
    if missing:
        raise ProfileError(
            f"profile {profile.name!r} needs columns {missing} that the file does not have "
            f"(the file has: {', '.join(table.header)})"
        )


@dataclass
class CleanRows:
    when: When
    category: np.ndarray
    located: Located
    reason: np.ndarray
    discarded: np.ndarray
    identical: np.ndarray
    outside: np.ndarray

    @property
    def keep(self) -> np.ndarray:
        return np.asarray(self.reason == "", dtype=bool)


def _clean(ctx: IngestContext, table: RawTable, profile: Profile) -> CleanRows:
    when = parse_when(table, profile.dates, ctx.today)
    category, cat_reason = parse_categories(table, profile)
    located = locate(table, profile, ctx.geocoder)
    outside = _plausibility(ctx.areas.partnership(), located, ctx.max_distance_km)
    loc_reason = located.reason.copy()
    discarded = np.full(table.n_rows, "", dtype=object)
    if profile.implausible_location == "unlocate":
        discarded = loc_reason.copy()
        bad = discarded != ""
        located.easting[bad] = np.nan
        located.northing[bad] = np.nan
        located.precision_m[bad] = np.nan
        located.method[bad] = "none"
        outside &= ~bad
        loc_reason[:] = ""
    reason = _first_reason(when.reason, cat_reason, loc_reason)
    return CleanRows(when, category, located, reason, discarded, _identical(table), outside)


def _first_reason(*reasons: np.ndarray) -> np.ndarray:
    out = np.full(len(reasons[0]), "", dtype=object)
    for r in reasons:
        take = (out == "") & (r != "")
        out[take] = r[take]
    return out


def _plausibility(partnership: Partnership | None, located: Located, max_km: float) -> np.ndarray:
    """Flag located rows outside the partnership area; those too far become implausible."""
    n = len(located.easting)
    if partnership is None:
        return np.zeros(n, dtype=bool)
    has = np.isfinite(located.easting)
    idx = partnership.index.assign(located.easting, located.northing)
    outside = has & (idx < 0)
    if max_km > 0 and outside.any():
        far = np.zeros(n, dtype=bool)
        d = partnership.distance_m(located.easting[outside], located.northing[outside])
        far[outside] = d > max_km * 1000.0
        located.reason[far & (located.reason == "")] = "beyond_max_distance"
        outside &= ~far
    return np.asarray(outside, dtype=bool)


def _identical(table: RawTable) -> np.ndarray:
    """True for rows that repeat an earlier row of the file field for field (kept, counted)."""
    if table.n_rows == 0:
        return np.zeros(0, dtype=bool)
    cols = [table.columns.arrow(h) for h in table.header]
    joined = pc.binary_join_element_wise(*cols, "\x1f") if len(cols) > 1 else cols[0]
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()  # one dictionary for the whole file
    codes = np.asarray(pc.dictionary_encode(joined).indices.to_numpy(zero_copy_only=False))
    first = np.zeros(len(codes), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = True
    return ~first


def _stream(table: RawTable, profile: Profile, partner: str, keep: np.ndarray) -> str:
    """The batch's stream: the partner, plus the file's source values (e.g. the force)."""
    col = profile.columns.source
    if col is None:
        return partner
    return f"{partner}|{';'.join(_distinct(table.columns[col][keep]))}"[:300]


def _distinct(values: np.ndarray) -> tuple[str, ...]:
    """The distinct non-empty strings of a column, sorted (Arrow's hash table, in C)."""
    found = pc.unique(pa.array(values, type=pa.string(), from_pandas=True)).to_pylist()
    return tuple(sorted(v for v in found if v))


def _replaced_batches(
    store: Store, dataset: DatasetRecord, stream: str, months: tuple[str, ...]
) -> list[BatchRecord]:
    """Active batches of this stream that this file corrects (their months all re-sent)."""
    wanted = set(months)
    replaced: list[BatchRecord] = []
    for b in store.batches.all(dataset.id, active_only=True):
        overlap = wanted & set(b.months)
        if b.stream != stream or not overlap:
            continue
        if not set(b.months) <= wanted:
            raise Conflict(
                f"this file covers {', '.join(sorted(overlap))} of batch {b.id} "
                f"({b.filename}, months {', '.join(b.months)}) but not all of it; "
                "a correction must re-send every month of the batch it replaces"
            )
        replaced.append(b)
    return replaced


def _duplicates(
    store: Store,
    dataset: DatasetRecord,
    table: RawTable,
    profile: Profile,
    keep: np.ndarray,
    replaces: tuple[int, ...],
) -> np.ndarray:
    """Rows whose source record id is already held by another active batch of the dataset."""
    col = profile.columns.record_id
    if col is None:
        return np.zeros(table.n_rows, dtype=bool)
    ids = table.columns[col]
    held = store.batches.held_source_ids(dataset.id, ids[keep], replaces)
    if len(held) == 0:
        return np.zeros(table.n_rows, dtype=bool)
    # Fixed-width unicode arrays: numpy sorts and searches them in C (object arrays compare
    # element by element in Python).
    known = np.isin(ids.astype(str), held)
    return np.asarray(keep & (ids != "") & known, dtype=bool)


def _optional(table: RawTable, name: str | None, mask: np.ndarray) -> np.ndarray:
    if name is None:
        return np.full(int(mask.sum()), None, dtype=object)
    return np.asarray(table.columns[name][mask], dtype=object)


def _incidents(
    table: RawTable, profile: Profile, rows: CleanRows, accepted: np.ndarray
) -> IncidentColumns:
    loc = rows.located
    flags = loc.flags.copy()
    flags[rows.identical] |= FLAG_IDENTICAL_ROW
    flags[rows.outside] |= FLAG_OUTSIDE_AREA
    c = profile.columns
    columns = {
        "source_row": table.source_row[accepted],
        "source_id": _optional(table, c.record_id, accepted),
        "month": rows.when.month[accepted],
        "occurred_from": rows.when.start[accepted],
        "occurred_to": rows.when.end[accepted],
        "category": rows.category[accepted],
        "easting": np.round(loc.easting[accepted]),
        "northing": np.round(loc.northing[accepted]),
        "precision_m": loc.precision_m[accepted],
        "geocode_method": loc.method[accepted],
        "location_text": (
            _optional(table, c.location_text, accepted)
            if c.location_text is not None
            else np.where(loc.text[accepted] == "", None, loc.text[accepted])
        ),
        "supplied_area": _optional(table, c.supplied_area, accepted),
        "outcome": _optional(table, c.outcome, accepted),
        "flags": flags[accepted],
    }
    return IncidentColumns(columns)


def _report(
    source: SourceFile,
    table: RawTable,
    profile: Profile,
    rows: CleanRows,
    accepted: np.ndarray,
    dup: np.ndarray,
    months: tuple[str, ...],
    replaced: list[BatchRecord],
) -> dict[str, Any]:
    rejected = count_reasons(rows.reason)
    if table.malformed:
        rejected["wrong_field_count"] = len(table.malformed)
    located = np.isfinite(rows.located.easting)
    report: dict[str, Any] = {
        "batch_id": None,
        "status": "replaced" if replaced else "new",
        "file": source.name,
        "sha256": source.sha256,
        "profile": profile.name,
        "encoding": table.encoding,
        "months": list(months),
        "date_kind": rows.when.kind,
        "rows_read": table.n_rows + len(table.malformed),
        "accepted": int(accepted.sum()),
        "unlocated": int((accepted & ~located).sum()),
        "outside_area": int((accepted & rows.outside).sum()),
        "duplicates": int(dup.sum()),
        "identical_rows": int((accepted & rows.identical).sum()),
        "rejected": rejected,
        "replaced_batches": [b.id for b in replaced],
    }
    if replaced:
        # What the correction takes away, beside what it brings: a short re-send shows at once.
        report["replaced_accepted"] = sum(int(b.report.get("accepted", 0)) for b in replaced)
    discarded = count_reasons(rows.discarded[accepted])
    if discarded:
        report["location_discarded"] = discarded
    return report


def _rejects(table: RawTable, rows: CleanRows, dup: np.ndarray) -> Rejects:
    rejects = Rejects(table.header)
    for number, reason, raw in table.malformed:
        rejects.add_raw(number, f"wrong_field_count ({reason})", raw)
    bad = ~rows.keep
    if bad.any():
        rejects.add_many(table.source_row[bad], rows.reason[bad], table.fields_at(bad))
    if dup.any():
        rejects.add_many(
            table.source_row[dup],
            np.full(int(dup.sum()), "duplicate_record_id", dtype=object),
            table.fields_at(dup),
        )
    return rejects
