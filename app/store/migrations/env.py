"""Alembic environment: runs against the connection or URL handed in by ``app.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online, on the connection passed in ``config.attributes`` or a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
