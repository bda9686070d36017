"""Cancellations received while Temporal was unavailable (``cancellation_request``).

The API keeps each cancellation here, with its receipt time, before it asks the contract's
workflow, and deletes the row once the workflow has it. Should Temporal be down, the row
stays and the API's relay signals the workflow later (api/cancellations.py): the receipt
time that sets the end (§312k BGB) is the first arrival, however late the workflow hears.
A repeat with the same request id gets the kept request, with its first receipt time.
Rows younger than ``older_than`` belong to the request that wrote them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta

import asyncpg

from db.models import CancellationRequest
from db.outbox import settle_outbox
from workflows.models import CancelRequest

_KEEP = (
    "INSERT INTO cancellation_request (request_id, contract_id, request, created_at)"
    " VALUES ($1, $2, $3::text::jsonb, now()) ON CONFLICT DO NOTHING"
)
_PENDING = (
    "SELECT contract_id::text AS contract_id, request::text AS request"
    " FROM cancellation_request WHERE created_at < now() - $1::interval"
    " ORDER BY attempts, created_at LIMIT $2 FOR UPDATE SKIP LOCKED"
)


async def keep(
    db: asyncpg.Connection, contract_id: uuid.UUID, cancel: CancelRequest
) -> CancelRequest:
    """Store the request unless its id is stored already; returns the stored one."""
    assert cancel.request_id is not None
    await db.execute(_KEEP, cancel.request_id, contract_id, cancel.model_dump_json())
    stored = await db.fetchval(
        "SELECT request::text FROM cancellation_request WHERE request_id = $1", cancel.request_id
    )
    return CancelRequest.model_validate_json(stored) if stored else cancel


async def forget(db: asyncpg.Connection, request_id: str) -> None:
    await db.execute("DELETE FROM cancellation_request WHERE request_id = $1", request_id)


async def pending(
    db: asyncpg.Connection, older_than: timedelta, limit: int
) -> list[tuple[str, CancelRequest]]:
    """(contract id, request), locked for the caller's transaction; failed ones last."""
    return [
        (row["contract_id"], CancelRequest.model_validate(json.loads(row["request"])))
        for row in await db.fetch(_PENDING, older_than, limit)
    ]


async def settle(db: asyncpg.Connection, done: Sequence[str], failed: Mapping[str, str]) -> None:
    """Delete the rows the workflow has; count a failure on the others."""
    await settle_outbox(db, CancellationRequest, list(done), failed)
