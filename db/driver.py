"""Plain SQL on asyncpg, on a connection from SQLAlchemy's pool, for the writes every invoice
makes once it is issued (receivable, SEPA debit, document rows, outbox).

Why: through the ORM a short transaction of two statements cost the worker ~2.4 ms of CPU
(session, identity map, unit of work, compiling and caching each statement), through the
driver ~0.5 ms (``docs/PERFORMANCE.md``, fifth round). Everything else keeps the ORM; the
tables and their columns stay defined in ``db/models.py`` only, so a statement here spells
out the values the model's Python defaults would fill in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


@asynccontextmanager
async def driver_transaction(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on the driver's connection, committed when the block ends.

    A connection the server dropped (Postgres restarted) is invalidated, not returned to the
    pool: SQLAlchemy only notices broken connections in statements it runs itself."""
    engine: AsyncEngine = session_factory.kw["bind"]
    async with engine.connect() as connection:
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        try:
            async with driver.transaction():
                yield driver
        except BaseException:
            if driver.is_closed():
                await connection.invalidate()
            raise
