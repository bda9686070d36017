"""The Idempotency-Key claim in a race (api/idempotency.py): a second request with the same
key finds the first one's row, and waits for its lock while the first request fails and
frees the key. The second request must then own the key, not answer an error."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.idempotency import Owned, Refused, claim, digest
from db.models import IdempotentRequest
from tests.helpers import eventually

THIS_ROW = "FROM idempotent_request WHERE scope = $1 AND key = $2"


async def waiting_for_a_row_lock(factory: async_sessionmaker[AsyncSession]) -> int:
    """Sessions waiting for the claim's row lock (read outside the lock holder's
    transaction: pg_stat_activity is a snapshot per transaction)."""
    async with factory() as session:
        return (
            await session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'SELECT *%FROM idempotent_request%FOR UPDATE'"
            ))
        ).scalar_one()  # fmt: skip


async def test_a_key_freed_while_its_row_is_awaited_is_claimed(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    scope, key, fingerprint = digest(b"POST /v1/test"), f"k-{uuid.uuid4()}", digest(b"{}")
    assert isinstance(await claim(session_factory, scope, key, fingerprint), Owned)  # the first
    first = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        failing = first.transaction()  # the first request failing: its settle frees the key
        await failing.start()
        await first.execute(f"SELECT 1 {THIS_ROW} FOR UPDATE", scope, key)
        second = asyncio.create_task(claim(session_factory, scope, key, fingerprint))
        waiting = await eventually(
            lambda: waiting_for_a_row_lock(session_factory), lambda n: n >= 1, 10
        )
        assert waiting >= 1, "the second claim should wait for the first request's row"
        await first.execute(f"DELETE {THIS_ROW}", scope, key)
        await failing.commit()
        assert isinstance(await asyncio.wait_for(second, 10), Owned)  # the route runs
    finally:
        await first.close()
    async with session_factory() as session:
        row = await session.get(IdempotentRequest, (scope, key))
    assert row is not None and (row.state, row.fingerprint) == ("pending", fingerprint)
    with pytest.raises(Refused, match="still being processed"):  # and holds it
        await claim(session_factory, scope, key, fingerprint)
