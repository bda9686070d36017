"""collection_start.attempts and last_error: a start that fails for a reason of its own is
tried again an hour later instead of failing the whole sweep, and support sees why; an
index of those rows for /healthz

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "collection_start",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("collection_start", sa.Column("last_error", sa.String(), nullable=True))
    op.create_index(
        "ix_collection_start_failing",
        "collection_start",
        ["wake_at"],
        postgresql_where=sa.text("state = 'pending' AND attempts > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_collection_start_failing", table_name="collection_start")
    op.drop_column("collection_start", "last_error")
    op.drop_column("collection_start", "attempts")
