"""invoice.preceding_number: an index of the credit notes by the invoice they correct, for
the sum of what is credited already (db/invoices.py; bench/scale_queries.py)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_invoice_preceding_number",
        "invoice",
        ["preceding_number"],
        postgresql_where=sa.text("preceding_number IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoice_preceding_number", table_name="invoice")
