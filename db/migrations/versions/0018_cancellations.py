"""cancellation: what §312k BGB asks to confirm, kept for support and as proof: the
customer's declaration (kind, reason), its receipt time and the end it leads to, or our own
termination (by_provider: the dunning ladder's); one row per contract, written with the
contract's cancellation version (activities/contracts.py)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cancellation",
        sa.Column("contract_id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("by_provider", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"]),
    )


def downgrade() -> None:
    op.drop_table("cancellation")
