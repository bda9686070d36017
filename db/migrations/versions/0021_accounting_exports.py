"""accounting_export: one DATEV booking batch per month, never exported twice;
accounting_entry: which invoice, credit note or bank line went into which batch, so one
that arrives after its month was exported goes into the next (activities/accounting.py)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounting_export",
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("movements", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "accounting_entry",
        sa.Column("source", sa.String(length=120), primary_key=True),
        sa.Column("month", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["month"], ["accounting_export.month"]),
    )


def downgrade() -> None:
    op.drop_table("accounting_entry")
    op.drop_table("accounting_export")
