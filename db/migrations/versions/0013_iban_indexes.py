"""customer.iban, sepa_mandate.iban: indexes for matching a bank line by the payer's IBAN
(db/receivables.py ``match``; bench/scale_queries.py)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 12:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_customer_iban", "customer", ["iban"])
    op.create_index("ix_sepa_mandate_iban", "sepa_mandate", ["iban"])


def downgrade() -> None:
    op.drop_index("ix_sepa_mandate_iban", table_name="sepa_mandate")
    op.drop_index("ix_customer_iban", table_name="customer")
