"""A DATEV batch is written once: its row can change only in the transaction that wrote it
(which fills in its counts and file), and the record of what went into it never changes
(GoBD: exported bookings are the books' input)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION refuse_exported_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.created_at < now() THEN
                RAISE EXCEPTION '% of %: an exported batch is never changed', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER accounting_export_written_once BEFORE UPDATE OR DELETE ON"
        " accounting_export FOR EACH ROW EXECUTE FUNCTION refuse_exported_change()"
    )
    op.execute(  # refuse_history_change() comes from revision 0002
        "CREATE TRIGGER accounting_entry_append_only BEFORE UPDATE OR DELETE ON"
        " accounting_entry FOR EACH ROW EXECUTE FUNCTION refuse_history_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER accounting_entry_append_only ON accounting_entry")
    op.execute("DROP TRIGGER accounting_export_written_once ON accounting_export")
    op.execute("DROP FUNCTION refuse_exported_change()")
