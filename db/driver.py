"""Plain SQL on asyncpg, on a connection from SQLAlchemy's pool, for the statements every
invoice makes (billing entry, invoice and lines, products and prices, number, document rows,
outbox, receivable, SEPA debit) and for the API's contract creation (idempotency claims,
catalog checks, contract, version, workflow outbox).

Why: one short transaction costs the worker ~2.1 ms of CPU through the ORM (session,
identity map, unit of work, compiling and caching each statement) and ~0.6 ms through the
driver (``bench/db_paths.py``; ``docs/PERFORMANCE.md``, fifth round). Everything else keeps
the ORM. The tables stay defined in ``db/models.py`` only: ``insert_row`` builds its
statement from the model, and a hand-written statement spells out the values the model's
Python defaults would fill in.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from functools import cache
from typing import Any

import asyncpg
from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from db.engine import DatabaseUnavailable


@asynccontextmanager
async def driver_connection(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[asyncpg.Connection]:
    """The driver's connection from the pool; each statement commits on its own unless the
    caller opens ``transaction()`` (a lone statement saves the BEGIN and COMMIT round trips).

    A connection the server dropped (Postgres restarted) is not returned to the pool, and
    nor are the pool's others of its age: SQLAlchemy only notices broken connections in
    statements it runs itself, so one is run on it. The failure is raised as
    DatabaseUnavailable, whatever asyncpg noticed it by."""
    engine: AsyncEngine = session_factory.kw["bind"]
    async with engine.connect() as connection:
        driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
        try:
            yield driver
        except BaseException as error:
            if not driver.is_closed():
                raise
            with suppress(DBAPIError):  # it fails at once, as a disconnect
                await connection.exec_driver_sql("SELECT 1")
            if isinstance(error, Exception):  # not a cancellation
                raise DatabaseUnavailable(f"Postgres dropped the connection: {error}") from error
            raise


@asynccontextmanager
async def driver_transaction(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on the driver's connection, committed when the block ends."""
    async with driver_connection(session_factory) as driver, driver.transaction():
        yield driver


async def driver_of(session: AsyncSession) -> asyncpg.Connection:
    """The driver connection under the session's transaction, for statements the ORM would
    make expensive; the session's pending changes are flushed first, so they come in order,
    and a session that has run nothing yet is made to begin (else the driver would commit
    each statement on its own)."""
    await session.flush()
    connection = await session.connection()
    driver: asyncpg.Connection = (await connection.get_raw_connection()).driver_connection
    if not driver.is_in_transaction():  # SQLAlchemy begins lazily, at its first statement
        await connection.exec_driver_sql("SELECT 1")
    return driver


@cache
def _insert_statement(model: type[SQLModel], skip_conflicts: bool) -> tuple[str, list[Column]]:
    """``INSERT`` of every column but the generated key, which it returns (tables keyed by
    their own values, such as the contract or an idempotency record, return nothing)."""
    table = model.__table__  # type: ignore[attr-defined]
    serial = table.autoincrement_column
    columns = [column for column in table.columns if column is not serial]
    values = [
        f"${n}::text::jsonb" if isinstance(column.type, JSONB) else f"${n}"
        for n, column in enumerate(columns, start=1)
    ]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(column.name for column in columns)})"
        f" VALUES ({', '.join(values)})"
    )
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if serial is not None:
        sql += f" RETURNING {serial.name}"
    return sql, columns


def _values(row: SQLModel, columns: list[Column]) -> list[Any]:
    return [
        json.dumps(getattr(row, column.name))
        if isinstance(column.type, JSONB)
        else getattr(row, column.name)
        for column in columns
    ]


async def insert_row(
    db: asyncpg.Connection, row: SQLModel, *, skip_conflicts: bool = False
) -> bool:
    """Insert a model instance as it is (its Python defaults are filled in when it is made)
    and set its generated key, if it has one. False if ``skip_conflicts`` and a conflicting
    row exists."""
    sql, columns = _insert_statement(type(row), skip_conflicts)
    if "RETURNING" not in sql:
        return (await db.execute(sql, *_values(row, columns))) == "INSERT 0 1"
    key = await db.fetchval(sql, *_values(row, columns))
    if key is None:
        return False
    setattr(row, type(row).__table__.autoincrement_column.name, key)  # type: ignore[attr-defined]
    return True


async def insert_rows(db: asyncpg.Connection, rows: Sequence[SQLModel]) -> None:
    """Insert instances of one model in one pipelined round trip (their keys stay unset)."""
    if rows:
        sql, columns = _insert_statement(type(rows[0]), False)
        await db.executemany(sql, [_values(row, columns) for row in rows])
