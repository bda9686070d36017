"""The daily clean-up of rows that outlived their purpose (db/retention.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db import retention
from db.driver import driver_connection
from workflows.models import RetentionInput, RetentionResult


class RetentionActivities:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], idempotency_window_days: int
    ) -> None:
        self.session_factory = session_factory
        self.idempotency_window = timedelta(days=idempotency_window_days)

    @activity.defn
    async def forget_expired_rows(self, input: RetentionInput) -> RetentionResult:
        """Delete in batches, each its own statement, so a retry only repeats what is left."""
        return RetentionResult(
            idempotent_requests=await self._all(
                retention.IDEMPOTENT_REQUESTS, input.now - self.idempotency_window
            ),
            collection_starts=await self._all(
                retention.COLLECTION_STARTS, input.now - retention.COLLECTION_START_DAYS
            ),
            creation_keys=await self._all(
                retention.CREATION_KEYS, input.now - self.idempotency_window
            ),
        )

    async def _all(self, statement: str, before: datetime) -> int:
        total = 0
        while True:
            async with driver_connection(self.session_factory) as db:
                gone = await retention.delete_batch(db, statement, before)
            total += gone
            activity.heartbeat()
            if gone < retention.BATCH:
                return total
