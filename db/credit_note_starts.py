"""Credit notes issued through the API whose workflow has not started (``credit_note_start``).

The note and its row commit together; right after the commit the request starts
``invoice-{number}`` (it renders, sends and books the note) and deletes the row. Should
Temporal be down, or the process die in between, the row stays and the API's relay starts
the workflow later (api/relays.py): a credit note is never left without its delivery.
Rows younger than ``older_than`` belong to the request that wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from db.models import CreditNoteStart
from db.outbox import settle_outbox

_PENDING = (
    "SELECT s.number, s.summary, i.contract_id::text AS contract_id,"
    " i.customer_id::text AS customer_id"
    " FROM credit_note_start s JOIN invoice i USING (number)"
    " WHERE s.created_at < now() - $1::interval"
    " ORDER BY s.attempts, s.created_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED"
)


@dataclass(frozen=True)
class PendingStart:
    number: str
    summary: str
    contract_id: str
    customer_id: str


async def pending(db: asyncpg.Connection, older_than: timedelta, limit: int) -> list[PendingStart]:
    """Locked for the caller's transaction (rows that failed before come last)."""
    return [PendingStart(**dict(row)) for row in await db.fetch(_PENDING, older_than, limit)]


async def settle(db: asyncpg.Connection, started: Sequence[str], failed: Mapping[str, str]) -> None:
    """Delete the rows whose workflow runs; count a failure on the others."""
    await settle_outbox(db, CreditNoteStart, list(started), failed)
