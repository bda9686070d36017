"""workflow_start: an index of the rows still to start, for the API's relay, which asks
for them every 2 s; the outbox keeps a row per contract (bench/scale_queries.py)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_workflow_start_pending",
        "workflow_start",
        ["created_at"],
        postgresql_where=sa.text("started_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_start_pending", table_name="workflow_start")
