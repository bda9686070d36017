"""retention: indexes for the nightly clean-up of expired rows (db/retention.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_idempotent_request_created_at", "idempotent_request", ["created_at"])
    op.create_index(
        "ix_collection_start_done",
        "collection_start",
        ["updated_at"],
        postgresql_where=sa.text("state <> 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_collection_start_done", table_name="collection_start")
    op.drop_index("ix_idempotent_request_created_at", table_name="idempotent_request")
