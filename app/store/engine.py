"""Engine creation, migrations and the data-version counter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    cast,
    create_engine,
    event,
    insert,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.errors import StoreError
from app.store.models import Assignment, Meta

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def resolve_url(url: str, home: Path) -> str:
    """The URL with a relative SQLite path made absolute under ``home`` (and its folder created).

    A relative ``sqlite:///var/atlas.db`` always means the project's own ``var/``, whatever the
    current directory, so the CLI and the server always open the same store.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database or "")
    if not path.is_absolute():
        path = home / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def make_engine(url: str, home: Path) -> Engine:
    """A SQLAlchemy engine for the store; SQLite gets WAL, foreign keys and a busy timeout."""
    resolved = resolve_url(url, home)
    try:
        engine = create_engine(resolved, future=True, pool_pre_ping=True)
    except Exception as exc:  # bad URL or missing driver
        raise StoreError(f"cannot open store {url!r}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the latest migration."""
    cfg = _alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StoreError(f"cannot migrate the store: {exc.orig}") from exc


def is_current(engine: Engine) -> bool:
    """True when the schema is at the latest migration."""
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError:
        return False
    return current == head


def bump_data_version(conn: Connection) -> int:
    """Increment the store-wide data version inside the caller's transaction."""
    # One atomic UPDATE (not read-then-write), so concurrent writers never both write N + 1.
    bumped = conn.execute(
        update(Meta)
        .where(Meta.key == "data_version")
        .values(value=cast(cast(Meta.value, Integer) + 1, String))
    )
    if bumped.rowcount == 0:
        conn.execute(insert(Meta).values(key="data_version", value="1"))
    return read_data_version(conn)


def read_data_version(conn: Connection) -> int:
    """The store-wide data version (0 for a new store)."""
    row = conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).first()
    return int(row[0]) if row else 0


def utc_now() -> datetime:
    """Naive UTC timestamp, the store's convention for every *_at column."""
    return datetime.now(UTC).replace(tzinfo=None)


def insert_assignments(conn: Connection, version_id: int, by_batch: dict[int, np.ndarray]) -> None:
    """Store area assignments (little-endian int32 per incident, id order) per batch."""
    rows = [
        {"batch_id": b, "version_id": version_id, "area_idx": a.astype("<i4").tobytes()}
        for b, a in by_batch.items()
    ]
    if rows:
        conn.execute(insert(Assignment), rows)
