"""Free-text columns from partner files become TEXT

PostgreSQL enforces VARCHAR(n) where SQLite does not, so a long category, outcome, file name,
Idempotency-Key or area name failed only on PostgreSQL. SQLite ignores declared lengths, so its
tables are left as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = {
    "incidents": ("source_id", "category", "supplied_area", "outcome"),
    "batches": ("filename", "idempotency_key", "profile", "stream"),
    "areas": ("code", "name"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.Text())


def downgrade() -> None:
    """Lengths are not restored: values longer than the old limits may now exist."""
