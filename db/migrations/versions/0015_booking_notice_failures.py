"""booking_notice.attempts and last_error: a notice that fails for a reason of its own is
skipped by the relay, not retried in front of the others, and support sees why

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "booking_notice",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("booking_notice", sa.Column("last_error", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("booking_notice", "last_error")
    op.drop_column("booking_notice", "attempts")
