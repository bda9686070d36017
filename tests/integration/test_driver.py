"""Plain SQL on the pool's driver connection (db/driver.py): commits, rolls back, and never
hands out a connection the server dropped."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from db.driver import driver_of, driver_transaction
from db.engine import DatabaseUnavailable, make_engine, make_session_factory


async def test_the_block_commits_and_an_error_rolls_back(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    factory = make_session_factory(engine)
    try:
        async with driver_transaction(factory) as db:
            await db.execute("CREATE TABLE IF NOT EXISTS driver_probe (value int)")
            await db.execute("TRUNCATE driver_probe")
            await db.execute("INSERT INTO driver_probe VALUES (1)")
        with pytest.raises(RuntimeError):
            async with driver_transaction(factory) as db:
                await db.execute("INSERT INTO driver_probe VALUES (2)")
                raise RuntimeError("the step failed after its first statement")
        async with driver_transaction(factory) as db:
            assert await db.fetch("SELECT value FROM driver_probe") == [(1,)]
            await db.execute("DROP TABLE driver_probe")
    finally:
        await engine.dispose()


async def test_a_connection_the_server_dropped_fails_once_and_is_replaced(
    database_url: str,
) -> None:
    """As after a Postgres restart: the first step on the dead connection fails (Temporal
    retries it), the next one gets a new connection instead of the dead one again."""
    engine = make_engine(database_url, pool_size=1)
    factory = make_session_factory(engine)
    try:
        async with driver_transaction(factory) as db:
            pid = await db.fetchval("SELECT pg_backend_pid()")
        outside = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            assert await outside.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await outside.close()
        with pytest.raises(DatabaseUnavailable):  # whatever asyncpg noticed it by
            async with driver_transaction(factory) as db:
                await db.fetchval("SELECT 1")
        for _ in range(3):
            async with driver_transaction(factory) as db:
                assert await db.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await engine.dispose()


async def test_statements_through_the_session_roll_back_with_it(database_url: str) -> None:
    """SQLAlchemy begins its transaction at the session's first statement; a statement on the
    driver connection before that would commit on its own."""
    engine = make_engine(database_url, pool_size=1)
    factory = make_session_factory(engine)
    try:
        async with factory() as session, session.begin():
            db = await driver_of(session)
            await db.execute("CREATE TABLE IF NOT EXISTS driver_probe_2 (value int)")
        with pytest.raises(RuntimeError):
            async with factory() as session, session.begin():
                db = await driver_of(session)  # the session's first statement
                await db.execute("INSERT INTO driver_probe_2 VALUES (1)")
                raise RuntimeError("the step failed")
        async with factory() as session, session.begin():
            await session.execute(text("SELECT 1"))
            db = await driver_of(session)  # after the session's own first statement
            assert await db.fetch("SELECT value FROM driver_probe_2") == []
            await db.execute("DROP TABLE driver_probe_2")
    finally:
        await engine.dispose()


async def test_the_pool_keeps_its_connections_under_more_callers_than_it_holds(
    database_url: str,
) -> None:
    """Callers beyond the pool's size wait for a connection instead of opening one that is
    closed again on return (a Postgres server process each time; db/engine.py)."""
    engine = make_engine(database_url, pool_size=2)
    factory = make_session_factory(engine)

    async def backend() -> int:
        async with driver_transaction(factory) as db:
            await asyncio.sleep(0.05)
            return await db.fetchval("SELECT pg_backend_pid()")

    try:
        first = await asyncio.gather(*(backend() for _ in range(8)))
        again = await asyncio.gather(*(backend() for _ in range(8)))
        assert len(set(first)) == 2 and set(again) == set(first)
    finally:
        await engine.dispose()


async def test_a_connection_terminated_mid_statement_is_database_unavailable(
    database_url: str,
) -> None:
    """Postgres shutting down ends each running statement with 'terminating connection due
    to administrator command' (57P01), which asyncpg raises before it marks the connection
    closed: that, too, is an outage, not a bug."""
    engine = make_engine(database_url, pool_size=1)
    factory = make_session_factory(engine)
    outside = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        with pytest.raises(DatabaseUnavailable):
            async with driver_transaction(factory) as db:
                pid = await db.fetchval("SELECT pg_backend_pid()")
                sleeping = asyncio.create_task(db.fetchval("SELECT pg_sleep(10)"))
                await asyncio.sleep(0.3)
                assert await outside.fetchval("SELECT pg_terminate_backend($1)", pid)
                await sleeping
    finally:
        await outside.close()
        await engine.dispose()
