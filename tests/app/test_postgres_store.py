"""The same store code against the real PostgreSQL server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.atlas import Atlas
from app.services.counts import CountQuery
from app.settings import Settings

pytestmark = pytest.mark.postgres
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture()
def pg_url() -> Iterator[str]:
    name = f"atlas_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_init_ingest_count_on_postgresql(pg_url: str, shared_data: Path, tmp_path: Path) -> None:
    atlas = Atlas.open(settings=Settings(database_url=pg_url, var_dir=tmp_path), migrate=True)
    try:
        atlas.init()
        f = shared_data / "crime" / "surrey" / "2022-02-surrey-street.csv"
        (first,) = atlas.ingest([f], "pg")
        assert first.report["rows_read"] == 6881 and first.report["status"] == "new"
        (again,) = atlas.ingest([f], "pg")
        assert again.report["status"] == "already_ingested"
        table = atlas.counts(CountQuery("pg", "districts", rates=True))
        in_areas = sum(r["count"] for r in table["rows"])
        assert in_areas == table["meta"]["in_areas"]
        assert (
            in_areas + table["meta"]["outside"] + table["meta"]["unlocated"]
            == first.report["accepted"]
        )
        assert all(r["population"] for r in table["rows"])
    finally:
        atlas.close()


def test_long_partner_strings_fit_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    atlas = Atlas.open(settings=Settings(database_url=pg_url, var_dir=tmp_path), migrate=True)
    try:
        atlas.init(empty=True)
        long_category = "Anti-social behaviour: " + "x" * 400
        csv = tmp_path / ("f" * 240 + ".csv")
        csv.write_text(f"Ref,Type,Month,Area\nr1,{long_category},2022-03,{'E' * 50}\n")
        prof = tmp_path / "p.toml"
        prof.write_text(
            'name = "long"\n[columns]\nrecord_id = "Ref"\ncategory = "Type"\n'
            'supplied_area = "Area"\n[dates]\nmonth = "Month"\n'
        )
        (out,) = atlas.ingest([csv], "long", profile=str(prof))
        assert out.report["accepted"] == 1
        cols = atlas.store.batches.load_incidents(atlas.store.datasets.get("long").id)
        assert cols["category"][0] == long_category
    finally:
        atlas.close()
