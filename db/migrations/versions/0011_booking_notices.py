"""booking_notice: a bank booking whose invoice's workflow has not heard of it yet, for
the relay to deliver (db/booking_notices.py); payment rows themselves never change

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_notice",
        sa.Column("booking_key", sa.String(length=120), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["booking_key"], ["payment.booking_key"]),
    )


def downgrade() -> None:
    op.drop_table("booking_notice")
