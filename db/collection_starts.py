"""Pending collection starts: an issued invoice's workflow is started only when it is needed.

The contract's workflow hands an invoice over with a row here instead of a started workflow
(activities/hand_over.py). At the row's ``wake_at`` (the first dunning deadline) the
invoice's workflow starts if the invoice is still open, else the row is settled
(activities/collection_starts.py); a return debit starts it at once (temporal_client.py).
Statements run on the driver's connection (db/driver.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from workflows.models import InvoiceWorkflowInput

STARTED, SETTLED = "started", "settled"  # and "pending", which only SQL here writes


# A start that fails for a reason of its own (not an outage) is due again this long after
# the end of the sweep's horizon, so one row cannot fail the sweep for all the others.
RETRY_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class CollectionStartRow:
    number: str
    wake_at: datetime
    state: str
    stored_input: dict[str, Any] | None  # read when used: one that cannot be read is that row's
    open_cents: int  # what the receivable has open now; 0 for a credit note (none of its own)

    @property
    def input(self) -> InvoiceWorkflowInput:
        """The workflow's input; raises if there is none, or it cannot be read."""
        if self.stored_input is None:
            raise ValueError(f"collection start {self.number} holds no input (state {self.state})")
        return InvoiceWorkflowInput.model_validate(self.stored_input)


async def defer(db: asyncpg.Connection, invoice: InvoiceWorkflowInput, wake_at: datetime) -> None:
    """Note the invoice's collection for ``wake_at``, once (a retried hand-over adds nothing)."""
    await db.execute(
        "INSERT INTO collection_start (invoice_number, wake_at, state, input, updated_at)"
        " VALUES ($1, $2, 'pending', $3::text::jsonb, now()) ON CONFLICT DO NOTHING",
        invoice.number, wake_at, invoice.model_dump_json(),
    )  # fmt: skip


SELECT = (
    "SELECT s.invoice_number, s.wake_at, s.state, s.input,"
    " COALESCE(r.amount_cents - r.paid_cents, 0) AS open_cents"
    " FROM collection_start s LEFT JOIN receivable r USING (invoice_number)"
)


def _row(record: asyncpg.Record) -> CollectionStartRow:
    return CollectionStartRow(
        number=record["invoice_number"],
        wake_at=record["wake_at"],
        state=record["state"],
        # a dict: SQLAlchemy's pool decodes jsonb on its connections
        stored_input=record["input"],
        open_cents=record["open_cents"],
    )


async def due(db: asyncpg.Connection, until: datetime, limit: int) -> list[CollectionStartRow]:
    """The oldest pending rows whose time has come by ``until``."""
    records = await db.fetch(
        f"{SELECT} WHERE s.state = 'pending' AND s.wake_at <= $1 ORDER BY s.wake_at LIMIT $2",
        until, limit,
    )  # fmt: skip
    return [_row(record) for record in records]


async def of_invoices(
    db: asyncpg.Connection, numbers: Sequence[str]
) -> dict[str, CollectionStartRow]:
    records = await db.fetch(f"{SELECT} WHERE s.invoice_number = ANY($1::text[])", list(numbers))
    return {record["invoice_number"]: _row(record) for record in records}


async def mark(db: asyncpg.Connection, numbers: Sequence[str], state: str) -> None:
    """Leave ``pending`` (or ``settled``, for a late return); a started run holds its input,
    so the row need not keep it."""
    if not numbers:
        return
    await db.execute(
        "UPDATE collection_start SET state = $2::text, updated_at = now(),"
        " input = CASE WHEN $2::text = 'started' THEN NULL ELSE input END"
        " WHERE invoice_number = ANY($1::text[]) AND state <> 'started'",
        list(numbers), state,
    )  # fmt: skip


async def note_failures(
    db: asyncpg.Connection, failed: Mapping[str, str], retry_at: datetime
) -> None:
    """Pending rows whose start failed for a reason of their own: due again at ``retry_at``
    (after the sweep that failed them, or it would meet them again), with the error kept
    for support (counted by /healthz)."""
    if failed:
        await db.execute(
            "UPDATE collection_start s SET attempts = s.attempts + 1, last_error = f.error,"
            " wake_at = $3, updated_at = now()"
            " FROM unnest($1::text[], $2::text[]) AS f(invoice_number, error)"
            " WHERE s.invoice_number = f.invoice_number AND s.state = 'pending'",
            list(failed), list(failed.values()), retry_at,
        )  # fmt: skip
