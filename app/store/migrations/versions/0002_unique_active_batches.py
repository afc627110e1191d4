"""One active batch per file content and one batch per Idempotency-Key, enforced by the store

Concurrent uploads of the same file could each pass the content check and land three copies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE = sa.text("superseded_by IS NULL")
KEYED = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "uq_batches_active_content",
        "batches",
        ["dataset_id", "sha256"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index(
        "uq_batches_idempotency_key",
        "batches",
        ["dataset_id", "idempotency_key"],
        unique=True,
        sqlite_where=KEYED,
        postgresql_where=KEYED,
    )


def downgrade() -> None:
    op.drop_index("uq_batches_idempotency_key", table_name="batches")
    op.drop_index("uq_batches_active_content", table_name="batches")
