"""Async engine and session factory (SQLModel on asyncpg)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# what a connection attempt raises while Postgres is down, starting or full
_UNREACHABLE = (
    OSError,  # refused, reset, no socket file, timed out
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.TooManyConnectionsError,
)


class DatabaseUnavailable(ConnectionError):
    """Postgres cannot be reached, or dropped the connection (a restart, a network fault):
    worth trying again later, unlike a statement it refused. The API answers it with 503
    (outages.py)."""


def make_engine(url: str, pool_size: int = 20) -> AsyncEngine:
    """A pool that keeps every connection it opens: beyond ``pool_size`` a caller waits.

    An overflow connection would be closed as soon as it is returned, so under a steady load
    above the pool size the pool opened and closed connections all the time: a Postgres
    server process each, with asyncpg's type introspection and no prepared statements (274
    sessions for 3,000 API requests at 50 in flight, docs/PERFORMANCE.md)."""
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
    event.listen(engine.sync_engine, "do_connect", _connect)
    return engine


def _connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect as SQLAlchemy would; a server out of reach raises DatabaseUnavailable (the
    driver raises a plain OSError, which says nothing about what was out of reach, and
    SQLAlchemy's adapter wraps the driver's own errors, such as "starting up")."""
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        if not _caused_by_unreachable(error):
            raise
        raise DatabaseUnavailable(f"Postgres cannot be reached: {error}") from error


def _caused_by_unreachable(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, _UNREACHABLE):
            return True
        error = error.__cause__
    return False


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
