"""Ingest of the real police.uk Surrey files: every row accounted for (SOURCES.md figures)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from app.atlas import Atlas
from app.errors import UnreadableFile
from tests.app.conftest import incident_count

# Rows per file, from ../shared/data/SOURCES.md (2022-01 .. 2022-11).
ROWS_2022 = [7038, 6881, 7618, 7231, 7758, 7874, 7648, 7747, 6863, 7711, 7331]
IDENTICAL_2022 = [298, 250, 285, 319, 361, 361, 477, 431, 281, 301, 223]


@pytest.fixture()
def surrey_2022(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "crime" / "surrey").glob("2022-*-surrey-street.csv"))


def _check_accounting(report: dict) -> None:
    assert report["rows_read"] == report["accepted"] + report["duplicates"] + sum(
        report["rejected"].values()
    )


@pytest.mark.slow
def test_all_2022_files_every_row_accounted(atlas: Atlas, surrey_2022: list[Path]) -> None:
    outcomes = atlas.ingest(surrey_2022, "surrey")
    reports = [o.report for o in outcomes]
    assert [r["rows_read"] for r in reports] == ROWS_2022
    for r in reports:
        _check_accounting(r)
        assert r["status"] == "new"
        assert r["duplicates"] == 0  # no Crime ID repeats across the 2022 files
    # Byte-identical ASB rows are kept and counted, never dropped.
    assert [r["identical_rows"] for r in reports] == IDENTICAL_2022
    total = sum(r["accepted"] for r in reports)
    unlocated = sum(r["unlocated"] for r in reports)
    assert unlocated == 2193  # rows without coordinates: real incidents, kept
    rejected = sum(sum(r["rejected"].values()) for r in reports)
    assert total + rejected == 81_700
    # Of 79,507 located rows, 78,728 lie inside the districts (SOURCES fit check).
    outside = sum(r["outside_area"] for r in reports)
    far = sum(r["rejected"].get("beyond_max_distance", 0) for r in reports)
    assert outside + far == 79_507 - 78_728
    assert set().union(*(r["rejected"] for r in reports)) <= {"beyond_max_distance"}
    assert incident_count(atlas) == total


def test_reingest_is_a_no_op(atlas: Atlas, surrey_2022: list[Path]) -> None:
    first = atlas.ingest(surrey_2022[:2], "surrey")
    version = atlas.store.data_version()
    before = incident_count(atlas)
    again = atlas.ingest(surrey_2022[:2], "surrey")
    assert [o.report["status"] for o in again] == ["already_ingested"] * 2
    assert [o.batch.id for o in again] == [o.batch.id for o in first]
    assert atlas.store.data_version() == version
    assert incident_count(atlas) == before


def test_same_content_gzipped_is_the_same_file(
    atlas: Atlas, surrey_2022: list[Path], tmp_path: Path
) -> None:
    atlas.ingest(surrey_2022[:1], "surrey")
    gz = tmp_path / (surrey_2022[0].name + ".gz")
    gz.write_bytes(gzip.compress(surrey_2022[0].read_bytes()))
    (again,) = atlas.ingest([gz], "surrey")
    assert again.report["status"] == "already_ingested"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("truncated.csv.gz", gzip.compress(random.Random(0).randbytes(5000))[:2000]),
        ("garbage.csv", bytes(range(256)) * 50),
        ("empty.csv", b""),
        ("corrupt.zip", b"PK\x03\x04 this is not really a zip"),
    ],
    ids=["truncated-gzip", "binary", "empty", "corrupt-zip"],
)
def test_corrupted_file_fails_cleanly_store_unchanged(
    atlas: Atlas, surrey_2022: list[Path], tmp_path: Path, name: str, content: bytes
) -> None:
    atlas.ingest(surrey_2022[:1], "surrey")
    version, before = atlas.store.data_version(), incident_count(atlas)
    bad = tmp_path / name
    bad.write_bytes(content)
    # The good file listed first must not land either: every file is read before any is written.
    with pytest.raises(UnreadableFile):
        atlas.ingest([surrey_2022[1], bad], "surrey")
    assert atlas.store.data_version() == version
    assert incident_count(atlas) == before


def test_zip_of_csvs_as_police_uk_downloads(
    atlas: Atlas, surrey_2022: list[Path], tmp_path: Path
) -> None:
    import zipfile

    z = tmp_path / "download.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in surrey_2022[:2]:
            zf.write(p, f"2022-xx/{p.name}")
    outcomes = atlas.ingest([z], "surrey")
    assert [o.report["rows_read"] for o in outcomes] == ROWS_2022[:2]
