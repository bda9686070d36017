"""Gapless invoice numbers under concurrency and rollback."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.invoices import next_number


async def test_two_hundred_concurrent_allocations_have_no_gap_and_no_duplicate(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    prefix = f"T{uuid.uuid4().hex[:4].upper()}"

    async def allocate() -> str:
        async with session_factory() as session, session.begin():
            number = await next_number(session, prefix, 2026)
            await asyncio.sleep(0)  # let others queue on the locked counter row
            return number

    numbers = await asyncio.gather(*[allocate() for _ in range(200)])
    assert sorted(numbers) == [f"{prefix}-2026-{n:07d}" for n in range(1, 201)]


async def test_a_rolled_back_allocation_leaves_no_gap(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    prefix = f"R{uuid.uuid4().hex[:4].upper()}"
    async with session_factory() as session, session.begin():
        assert await next_number(session, prefix, 2026) == f"{prefix}-2026-0000001"
    with pytest.raises(RuntimeError):
        async with session_factory() as session, session.begin():
            await next_number(session, prefix, 2026)
            raise RuntimeError("the invoice insert failed")
    async with session_factory() as session, session.begin():
        assert await next_number(session, prefix, 2026) == f"{prefix}-2026-0000002"
    async with session_factory() as session, session.begin():
        assert await next_number(session, prefix, 2027) == f"{prefix}-2027-0000001"
