"""retention: an index for forgetting the Idempotency-Key claims of creations
(db/retention.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_idempotency_record_key_claims",
        "idempotency_record",
        ["created_at"],
        postgresql_where=sa.text("key LIKE 'key:%'"),
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_record_key_claims", table_name="idempotency_record")
