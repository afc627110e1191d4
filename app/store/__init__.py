"""The store: one interface (``base.Store``) over SQLite by default, PostgreSQL/PostGIS later."""

from __future__ import annotations

from pathlib import Path

from app.errors import StoreError
from app.store.base import Store
from app.store.sql import SqlStore

__all__ = ["Store", "open_store"]


def open_store(url: str, home: Path, migrate: bool = False) -> Store:
    """Open the store at ``url``; with ``migrate`` create or upgrade its schema first.

    Raises StoreError when the store cannot be opened or has not been created (`atlas init`).
    """
    store = SqlStore(url, home)
    if migrate:
        store.migrate()
    elif not store.is_current():
        store.close()
        raise StoreError(f"the store at {url} is not initialised or out of date: run `atlas init`")
    return store
