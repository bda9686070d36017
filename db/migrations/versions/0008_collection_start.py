"""collection start: invoices whose collection workflow starts only when needed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collection_start",
        sa.Column("invoice_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("input", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_number"),
    )
    op.create_index(
        "ix_collection_start_pending",
        "collection_start",
        ["wake_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_collection_start_pending", table_name="collection_start")
    op.drop_table("collection_start")
