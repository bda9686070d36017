"""What waits to be passed on to Temporal, for /healthz: a monitor that sees
``oldest_seconds`` or a failure count grow knows deliveries are stuck (Temporal down for
long, or rows that fail for a reason of their own: their ``last_error`` says which).

The workflow starts of contracts and credit notes, the cancellations and the bank bookings
the API's relay still has to deliver (api/relays.py), and the collection starts the
hourly sweep could not make (activities/collection_starts.py).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from pydantic import BaseModel

_BACKLOG = (
    "WITH waiting AS ("
    " SELECT 'start' AS kind, created_at, attempts FROM workflow_start"
    "  WHERE started_at IS NULL AND created_at < now() - $1::interval"
    " UNION ALL"
    " SELECT 'credit note', created_at, attempts FROM credit_note_start"
    "  WHERE created_at < now() - $1::interval"
    " UNION ALL"
    " SELECT 'cancellation', created_at, attempts FROM cancellation_request"
    "  WHERE created_at < now() - $1::interval"
    " UNION ALL"
    " SELECT 'booking', created_at, attempts FROM booking_notice"
    "  WHERE created_at < now() - $1::interval)"
    " SELECT count(*) FILTER (WHERE kind = 'start') AS workflow_starts,"
    " count(*) FILTER (WHERE kind = 'credit note') AS credit_notes,"
    " count(*) FILTER (WHERE kind = 'cancellation') AS cancellations,"
    " count(*) FILTER (WHERE kind = 'booking') AS bank_bookings,"
    " count(*) FILTER (WHERE attempts > 0) AS failed_before,"
    " COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::int AS oldest_seconds,"
    # the partial index ix_collection_start_failing holds just these rows
    " (SELECT count(*) FROM collection_start"
    "  WHERE state = 'pending' AND attempts > 0) AS collection_starts_failing"
    " FROM waiting"
)


class Backlog(BaseModel):
    workflow_starts: int  # contracts whose workflow has not started
    credit_notes: int  # credit notes whose workflow (render, send, book) has not started
    cancellations: int  # cancellations received that no workflow has heard of yet
    bank_bookings: int  # bookings their invoice's workflow has not heard of
    failed_before: int  # of these, rows whose delivery has failed at least once
    oldest_seconds: int  # how long the oldest of these has waited; 0 when none waits
    collection_starts_failing: int  # invoices whose dunning could not start; tried hourly


async def backlog(db: asyncpg.Connection, older_than: timedelta) -> Backlog:
    """Relay rows older than ``older_than`` (younger ones belong to the request that wrote
    them), and the failing collection starts."""
    return Backlog(**dict(await db.fetchrow(_BACKLOG, older_than)))
