"""credit_note_start: a credit note issued through the API whose workflow has not started
yet, written with the note; the API's relay starts what its request could not (Temporal
down, the process gone) and deletes the row (db/credit_note_starts.py)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_note_start",
        sa.Column("number", sa.String(length=20), primary_key=True),
        sa.Column("summary", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["number"], ["invoice.number"]),
    )


def downgrade() -> None:
    op.drop_table("credit_note_start")
