"""What the API's relay (api/relays.py) still has to pass on to Temporal, for /healthz: a
monitor that sees ``oldest_seconds`` grow knows deliveries are stuck (Temporal down for
long, or a row that fails for a reason of its own: its ``last_error`` says which)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from pydantic import BaseModel

_BACKLOG = (
    "WITH waiting AS ("
    " SELECT 'start' AS kind, created_at, attempts FROM workflow_start"
    "  WHERE started_at IS NULL AND created_at < now() - $1::interval"
    " UNION ALL"
    " SELECT 'booking', created_at, attempts FROM booking_notice"
    "  WHERE created_at < now() - $1::interval)"
    " SELECT count(*) FILTER (WHERE kind = 'start') AS workflow_starts,"
    " count(*) FILTER (WHERE kind = 'booking') AS bank_bookings,"
    " count(*) FILTER (WHERE attempts > 0) AS failed_before,"
    " COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::int AS oldest_seconds"
    " FROM waiting"
)


class RelayBacklog(BaseModel):
    workflow_starts: int  # contracts whose workflow has not started
    bank_bookings: int  # bookings their invoice's workflow has not heard of
    failed_before: int  # of both, rows whose delivery has failed at least once
    oldest_seconds: int  # how long the oldest has waited; 0 when none waits


async def relay_backlog(db: asyncpg.Connection, older_than: timedelta) -> RelayBacklog:
    """Rows older than ``older_than`` (younger ones belong to the request that wrote them)."""
    return RelayBacklog(**dict(await db.fetchrow(_BACKLOG, older_than)))
