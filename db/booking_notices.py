"""Bank bookings whose invoice's workflow has not heard of them yet (``booking_notice``).

A booking commits with its bank line and a notice row, and its message to the workflow
goes out after the commit (temporal_client.py), which deletes the notice. Should Temporal
be down then, or the process die in between, the notice stays and the relay sends it
later: a return debit must never be lost (its workflow presents the debit again). Credit
notes book without a bank line and need no message: the workflow reads the receivable
before every step. Payment rows themselves never change (GoBD).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import asyncpg

from db.models import BookingNotice
from db.outbox import settle_outbox
from db.receivables import Booked

# Rows that failed before come last: a row that fails for a reason of its own (a bug, data
# a newer version cannot read) must not hold up the others.
# With the receivable's open amount as it is now, not as it was at the booking: an older
# message delivered late must not undo what a newer one told
_UNDELIVERED = (
    "SELECT p.booking_key, p.invoice_number, r.contract_id::text AS contract_id,"
    " p.amount_cents, p.reason, p.fee_cents, r.amount_cents - r.paid_cents AS open_cents"
    " FROM booking_notice n JOIN payment p USING (booking_key)"
    " JOIN receivable r USING (invoice_number)"
    " WHERE n.created_at < now() - $1::interval"
    " ORDER BY n.attempts, p.id LIMIT $2 FOR UPDATE OF n SKIP LOCKED"
)


async def undelivered(db: asyncpg.Connection, older_than: timedelta, limit: int) -> list[Booked]:
    """Locked for the caller's transaction; a row another relay holds is left to it."""
    return [
        Booked(
            invoice_number=row["invoice_number"],
            contract_id=row["contract_id"],
            kind="return" if row["amount_cents"] < 0 else "payment",
            amount_cents=row["amount_cents"],
            open_cents=row["open_cents"],
            reason=row["reason"],
            fee_cents=row["fee_cents"],
            key=row["booking_key"],
        )
        for row in await db.fetch(_UNDELIVERED, older_than, limit)
    ]


async def settle(db: asyncpg.Connection, told: Sequence[str], failed: Mapping[str, str]) -> None:
    """Delete the notices told; count a failure on those that failed for a reason of their
    own (the row stays, support sees why: ``faktura`` logs it as an error too)."""
    await settle_outbox(db, BookingNotice, list(told), failed)
