"""Incidents stored per batch, column-wise: exact round trip, record-id hashes, duplicate lookup
exact whatever the hash does, and the migration from the row-per-incident table."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import app.store.columnar as columnar
import app.store.sql_datasets as sql_datasets
from app.atlas import Atlas
from app.store.engine import _alembic_config
from app.store.records import INCIDENT_COLUMNS
from app.store.sql import SqlStore
from tests.app.conftest import make_settings
from tests.app.test_ingest_rows import HEADER

TEXT = st.one_of(st.none(), st.text(max_size=12))
METRES = st.one_of(st.just(float("nan")), st.floats(-1e6, 2e6, allow_nan=False))
STAMP = st.one_of(st.none(), st.integers(0, 4_000_000_000))


@st.composite
def batches(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, 30))

    def text_column() -> np.ndarray:
        out = np.empty(n, dtype=object)
        out[:] = draw(st.lists(TEXT, min_size=n, max_size=n))
        return out

    def stamps() -> np.ndarray:
        values = draw(st.lists(STAMP, min_size=n, max_size=n))
        return np.array(
            [np.datetime64("NaT") if v is None else np.datetime64(v, "s") for v in values],
            dtype="datetime64[s]",
        )

    cols: dict[str, np.ndarray] = {}
    for name, kind in INCIDENT_COLUMNS.items():
        if kind == "float64":
            cols[name] = np.array(draw(st.lists(METRES, min_size=n, max_size=n)), dtype=float)
        elif kind == "int64":
            ints = draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n))
            cols[name] = np.array(ints, dtype=np.int64)
        elif kind.startswith("datetime64"):
            cols[name] = stamps()
        else:
            cols[name] = text_column()
    return cols


def _expected_text(values: np.ndarray) -> list[object]:
    return [None if v is None or v == "" else v for v in values.tolist()]


@settings(max_examples=150, deadline=None)
@given(batches(), batches())
def test_round_trip_of_every_column(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Two batches written then read back together: metres rounded to 1 m (NaN kept), empty
    text and missing text both None, times to the second (NaT kept), integers exact."""
    out = columnar.decode_tables([columnar.encode(a), columnar.encode(b)], list(INCIDENT_COLUMNS))
    for name, kind in INCIDENT_COLUMNS.items():
        want = np.concatenate([a[name], b[name]])
        got = out[name]
        assert len(got) == len(want)
        if kind == "float64":
            np.testing.assert_array_equal(got, np.round(want))
        elif kind in ("int64",) or kind.startswith("datetime64"):
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
        else:
            assert got.tolist() == _expected_text(want)


def test_reading_some_columns_only() -> None:
    cols = {
        name: (np.zeros(3) if kind != "object" else np.array(["x", "", None], dtype=object))
        for name, kind in INCIDENT_COLUMNS.items()
    }
    cols["occurred_from"] = cols["occurred_to"] = np.full(3, np.datetime64("NaT"), "datetime64[s]")
    cols["source_row"] = cols["flags"] = np.array([7, 8, 9])
    out = columnar.decode_tables([columnar.encode(cols)], ["flags", "category"])
    assert set(out) == {"flags", "category"}
    assert out["flags"].tolist() == [7, 8, 9]
    assert out["category"].tolist() == ["x", None, None]


def _reference_hash(value: str) -> int:
    """The documented hash, one byte at a time in plain Python integers (independent of the
    vectorised code): polynomial over UTF-8 bytes mod 2**64, length in the top byte, splitmix."""
    mask = 2**64 - 1
    h = 0
    for byte in value.encode():
        h = (h * 0x100000001B3 + byte) & mask
    z = h ^ ((len(value.encode()) << 56) & mask)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


@given(st.lists(st.text(max_size=40), max_size=40))
def test_hash_equals_the_byte_by_byte_reference(values: list[str]) -> None:
    got = columnar.hash_strings(pa.array(values, type=pa.string()))
    assert got.tolist() == [_reference_hash(v) for v in values]


def test_real_record_ids_hash_apart(shared_data: Path) -> None:
    """66,013 distinct police.uk Crime IDs of 2022 (64 hex characters each): no two collide."""
    ids: set[str] = set()
    for f in sorted((shared_data / "crime" / "surrey").glob("2022-*.csv")):
        with f.open(newline="") as fh:
            ids.update(r["Crime ID"] for r in csv.DictReader(fh) if r["Crime ID"])
    hashes = columnar.id_hashes(np.array(sorted(ids), dtype=object))
    assert len(ids) == 66_013
    assert len(hashes) == len(ids)


def _constant_hash(text: pa.Array) -> np.ndarray:
    return np.zeros(len(text), dtype=np.uint64)


@pytest.mark.parametrize("degenerate", [False, True])
def test_duplicate_lookup_is_exact_whatever_the_hash(
    atlas: Atlas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, degenerate: bool
) -> None:
    """With every id hashing alike, the lookup still answers exactly which ids are held."""
    if degenerate:
        monkeypatch.setattr(columnar, "hash_strings", _constant_hash)
        monkeypatch.setattr(sql_datasets, "hash_strings", _constant_hash)

    def row(crime_id: str, month: str, kind: str) -> str:
        return f"{crime_id},{month},Surrey Police,Surrey Police,-0.57,51.24,a,,,{kind},,"

    first = tmp_path / "a.csv"
    first.write_text(
        "\n".join([HEADER, row("x1", "2022-01", "Burglary"), row("", "2022-01", "ASB")])
    )
    second = tmp_path / "b.csv"
    second.write_text(
        "\n".join([HEADER, row("x1", "2022-02", "Burglary"), row("x2", "2022-02", "Drugs")])
    )
    atlas.ingest([first], "d")
    (out,) = atlas.ingest([second], "d")
    assert out.report["duplicates"] == 1 and out.report["accepted"] == 1
    ds = atlas.store.datasets.get("d")
    held = atlas.store.batches.held_source_ids(
        ds.id, np.array(["x1", "x2", "x3", "", None], dtype=object), ()
    )
    assert sorted(held.tolist()) == ["x1", "x2"]


def test_migration_moves_row_incidents_into_batches(tmp_path: Path) -> None:
    """A store made before 0004 (one row per incident) reads the same incidents after it."""
    path = tmp_path / "old.db"
    store = SqlStore(f"sqlite:///{path}", tmp_path)
    command.upgrade(_alembic_config(store.engine), "0003")
    rows = [
        (1, "id-1", "2022-01", None, "Burglary", 499417, 149731, 1, "lonlat", "On or near A", 0),
        (
            2,
            None,
            "2022-01",
            "2022-01-05 22:00:00.000000",
            "ASB",
            None,
            None,
            None,
            "none",
            None,
            1,
        ),
        (3, "id-3", "2022-02", None, "Drugs", 500000, 150000, 10, "gridref", "SU 00 50", 0),
    ]
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO datasets (id, name, access, description, created_at) "
                "VALUES (1, 'old', 'open', '', '2026-01-01')"
            )
        )
        for batch_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO batches (id, dataset_id, partner, stream, filename, sha256, "
                    "profile, status, months, report, rejects_csv, created_at) VALUES (:b, 1, '', "
                    "'', 'f.csv', :sha, 'police-uk', 'new', '', '{}', x'', '2026-01-01')"
                ),
                {"b": batch_id, "sha": str(batch_id) * 64},
            )
        for i, r in enumerate(rows):
            conn.execute(
                text(
                    "INSERT INTO incidents (dataset_id, batch_id, source_row, source_id, month, "
                    "occurred_from, category, easting, northing, precision_m, geocode_method, "
                    "location_text, flags) VALUES (1, :b, :r0, :r1, :r2, :r3, :r4, :r5, :r6, :r7, "
                    ":r8, :r9, :r10)"
                ),
                {"b": 1 if i < 2 else 2, **{f"r{j}": v for j, v in enumerate(r)}},
            )
    store.migrate()
    cols = store.batches.load_incidents(1)
    store.close()
    assert cols.batch_id.tolist() == [1, 1, 2]
    assert cols["source_id"].tolist() == ["id-1", None, "id-3"]
    assert cols["category"].tolist() == ["Burglary", "ASB", "Drugs"]
    np.testing.assert_array_equal(cols["easting"], [499417, np.nan, 500000])
    assert cols["occurred_from"][1] == np.datetime64("2022-01-05T22:00:00")
    assert np.isnat(cols["occurred_from"][0])
    assert cols["flags"].tolist() == [0, 1, 0]
    atlas = Atlas.open(settings=make_settings(path))
    try:
        assert atlas.store.batches.held_source_ids(1, np.array(["id-3", "id-9"]), ()).tolist() == [
            "id-3"
        ]
    finally:
        atlas.close()
