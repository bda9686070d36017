"""cancellation_request: a cancellation the API received but could not hand to the
contract's workflow (Temporal unavailable), with its receipt time; the API's relay signals
it later and deletes the row (db/cancellation_requests.py)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cancellation_request",
        sa.Column("request_id", sa.String(length=220), primary_key=True),
        sa.Column("contract_id", sa.Uuid(), nullable=False),
        sa.Column("request", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"]),
    )


def downgrade() -> None:
    op.drop_table("cancellation_request")
