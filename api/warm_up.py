"""Open what the first requests would otherwise open one by one, before they come.

Measured with ``bench/api_load.py --rate 60``: in the first 10 s after start the p99 was
412 ms against 44 ms once warm; the requests then were opening the pool's connections
(a Postgres server process and asyncpg's type introspection each) and Temporal's channel.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from db.driver import driver_connection

log = logging.getLogger(__name__)
WARM_UP_SECONDS = 10.0  # a slow or absent dependency must not hold the API's start longer


async def warm_up(
    session_factory: async_sessionmaker[AsyncSession], pool_size: int, temporal: Client
) -> None:
    """Open every pooled connection at once and Temporal's channel; a failure only logs:
    the API starts anyway, and a request meets the same fault with a clear answer."""

    async def one_connection() -> None:
        async with driver_connection(session_factory) as db:
            await db.fetchval("SELECT 1")

    async def all_of_it() -> None:
        await asyncio.gather(
            *(one_connection() for _ in range(pool_size)),
            temporal.service_client.check_health(),
        )

    try:
        await asyncio.wait_for(all_of_it(), WARM_UP_SECONDS)
    except Exception as error:  # noqa: BLE001 - down or slow: the API starts all the same
        log.warning("warm-up incomplete, Postgres or Temporal not answering: %r", error)
