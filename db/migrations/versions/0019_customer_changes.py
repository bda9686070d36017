"""customer_change: each change of a customer's data through the API, what it set and who
made it (IBANs masked), so support can follow a customer's history

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
    )
    op.create_index("ix_customer_change_customer", "customer_change", ["customer_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_customer_change_customer", table_name="customer_change")
    op.drop_table("customer_change")
