"""Starting the collection workflows that are needed, and only those.

An issued invoice waits as a pending row (db/collection_starts.py) instead of an idle
workflow. At its first dunning deadline the hourly sweep starts ``invoice-{number}`` if the
invoice is still open, and settles the row otherwise: the ~95 % of invoices paid on time
never cost the server a workflow (docs/PERFORMANCE.md, tenth round).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db import collection_starts
from db.collection_starts import RETRY_AFTER, SETTLED, STARTED, CollectionStartRow
from db.driver import driver_connection
from outages import failure_text, unavailable_service
from temporal_client import start_collection
from workflows.models import CollectionStartsInput, CollectionStartsResult

PAGE = 500
STARTS_IN_FLIGHT = 20


class CollectionStartActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    @activity.defn
    async def start_due_collections(self, input: CollectionStartsInput) -> CollectionStartsResult:
        """Page through the rows due by ``input.until``: start the open ones, settle the rest.
        A row is marked only after its start, so a crash repeats the start (idempotent by
        the workflow id), never skips it. An outage fails the activity (Temporal retries
        it); a row that fails for a reason of its own waits an hour and the others go on."""
        client, task_queue = activity.client(), activity.info().task_queue
        slots = asyncio.Semaphore(STARTS_IN_FLIGHT)
        result = CollectionStartsResult(started=0, settled=0)

        async def start(row: CollectionStartRow, failed: dict[str, str]) -> None:
            async with slots:
                try:
                    await start_collection(client, task_queue, row)
                except Exception as error:
                    if unavailable_service(error):
                        raise  # the activity is retried; the rows stay due
                    activity.logger.error("collection start of %s failed: %r", row.number, error)
                    failed[row.number] = failure_text(error)
            activity.heartbeat()  # alive within a page too (the SDK throttles the calls)

        while True:
            async with driver_connection(self.session_factory) as db:
                rows = await collection_starts.due(db, input.until, PAGE)
            if not rows:
                return result
            open_rows = [row for row in rows if row.open_cents > 0]
            failed: dict[str, str] = {}
            await asyncio.gather(*(start(row, failed) for row in open_rows))
            started = [row.number for row in open_rows if row.number not in failed]
            async with driver_connection(self.session_factory) as db:
                await collection_starts.mark(db, started, STARTED)
                await collection_starts.mark(
                    db, [row.number for row in rows if row.open_cents <= 0], SETTLED
                )
                await collection_starts.note_failures(
                    db, failed, max(input.until, datetime.now(UTC)) + RETRY_AFTER
                )
            result.started += len(started)
            result.settled += len(rows) - len(open_rows)
            result.failed += len(failed)
            activity.heartbeat()
