"""App fixtures: a template store with the bundled boundaries, copied per test (SQLite file)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.atlas import Atlas
from app.http.factory import create_app
from app.settings import Settings


def make_settings(db_path: Path, **overrides: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{db_path}", var_dir=db_path.parent / "var", **overrides
    )  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the bundled boundaries and population registered (built once per session)."""
    path = tmp_path_factory.mktemp("template") / "atlas.db"
    atlas = Atlas.open(settings=make_settings(path), migrate=True)
    atlas.init()
    atlas.close()
    return path


@pytest.fixture()
def atlas(template_db: Path, tmp_path: Path) -> Iterator[Atlas]:
    """A private copy of the template store for one test."""
    path = tmp_path / "atlas.db"
    shutil.copy(template_db, path)
    a = Atlas.open(settings=make_settings(path))
    yield a
    a.close()


@pytest.fixture()
def empty_atlas(tmp_path: Path) -> Iterator[Atlas]:
    """A migrated store with nothing registered."""
    a = Atlas.open(settings=make_settings(tmp_path / "empty.db"), migrate=True)
    yield a
    a.close()


@pytest.fixture()
def client(atlas: Atlas) -> Iterator[TestClient]:
    app = create_app(atlas.settings, atlas=atlas)
    with TestClient(app) as c:
        yield c


def incident_count(atlas: Atlas) -> int:
    return sum(
        len(atlas.store.batches.load_incidents(d.id, ["month"])) for d in atlas.store.datasets.all()
    )
