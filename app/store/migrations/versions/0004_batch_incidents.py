"""Incidents are stored per batch, column-wise, instead of one SQL row each

A batch never changes once written, so its incidents become one compressed Arrow IPC value
(``batch_incidents.arrow_ipc``) plus the hashes of its record ids. Writing a month of police.uk
data was one SQL row per incident (most of the ingest time, and an index on random record ids);
loading a dataset for analysis converted every value in Python. Existing incidents are
converted batch by batch and the ``incidents`` table is dropped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa
from alembic import op

from app.store.columnar import encode, id_hashes
from app.store.records import INCIDENT_COLUMNS

#: The columns of the ``incidents`` table this migration reads, as they were (frozen here: the
#: store's column list may grow later; anything newer is filled empty for these batches).
OLD_COLUMNS = {
    "source_row": "int64",
    "source_id": "object",
    "month": "object",
    "occurred_from": "datetime64[s]",
    "occurred_to": "datetime64[s]",
    "category": "object",
    "easting": "float64",
    "northing": "float64",
    "precision_m": "float64",
    "geocode_method": "object",
    "location_text": "object",
    "supplied_area": "object",
    "outcome": "object",
    "flags": "int64",
}

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "batch_incidents",
        sa.Column("batch_id", ID_TYPE, nullable=False),
        sa.Column("dataset_id", ID_TYPE, nullable=False),
        sa.Column("n_incidents", sa.Integer(), nullable=False),
        sa.Column("arrow_ipc", sa.LargeBinary(), nullable=False),
        sa.Column("id_hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"]),
        sa.PrimaryKeyConstraint("batch_id"),
    )
    op.create_index("ix_batch_incidents_dataset_id", "batch_incidents", ["dataset_id"])
    _convert(op.get_bind())
    op.drop_index("ix_incidents_dataset_source_id", table_name="incidents")
    op.drop_index("ix_incidents_batch", table_name="incidents")
    op.drop_table("incidents")


def _convert(conn: sa.Connection) -> None:
    names = list(OLD_COLUMNS)
    batches = conn.execute(
        sa.text("SELECT DISTINCT batch_id, dataset_id FROM incidents ORDER BY batch_id")
    ).all()
    for batch_id, dataset_id in batches:
        rows = conn.execute(
            sa.text(f"SELECT {', '.join(names)} FROM incidents WHERE batch_id = :b ORDER BY id"),
            {"b": batch_id},
        ).all()
        columns = {n: _column([r[i] for r in rows], OLD_COLUMNS[n]) for i, n in enumerate(names)}
        for name, kind in INCIDENT_COLUMNS.items():
            columns.setdefault(name, _column([None] * len(rows), kind))
        conn.execute(
            sa.text(
                "INSERT INTO batch_incidents (batch_id, dataset_id, n_incidents, arrow_ipc, "
                "id_hashes) VALUES (:b, :d, :n, :ipc, :h)"
            ),
            {
                "b": batch_id,
                "d": dataset_id,
                "n": len(rows),
                "ipc": encode(columns),
                "h": id_hashes(columns["source_id"]).tobytes(),
            },
        )


def _column(values: list[Any], kind: str) -> np.ndarray:
    """A numpy column from the old table's values (None -> NaN / NaT / None)."""
    if kind == "float64":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind.startswith("datetime64"):
        return np.array(
            [np.datetime64("NaT") if v is None else np.datetime64(str(v), "s") for v in values],
            dtype="datetime64[s]",
        )
    if kind == "int64":
        return np.array([0 if v is None else v for v in values], dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def downgrade() -> None:
    raise NotImplementedError("incidents stored per batch cannot be turned back into rows here")
