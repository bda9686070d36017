"""The embedded Postgres is reached over its Unix socket where the path allows, over
127.0.0.1 otherwise (devstack/postgres.py)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from devstack.postgres import MAX_SOCKET_PATH, EmbeddedPostgres


async def test_the_stack_talks_to_postgres_over_its_unix_socket(database_url: str) -> None:
    assert "?host=/" in database_url
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        # NULL for a connection over a Unix socket, the client's address over TCP
        assert await connection.fetchval("SELECT inet_client_addr()") is None
    finally:
        await connection.close()


def test_a_data_directory_too_deep_for_a_socket_path_falls_back_to_loopback() -> None:
    short = EmbeddedPostgres(Path("/srv/pg"), 5433)
    assert short.url("books") == "postgresql+asyncpg://faktura@/books?host=/srv/pg&port=5433"
    spaced = EmbeddedPostgres(Path("/home/a b/pg+1"), 5433)
    assert make_url(spaced.url()).query["host"] == "/home/a b/pg+1"
    deep = EmbeddedPostgres(Path("/srv") / ("d" * MAX_SOCKET_PATH), 5433)
    assert deep.url("books") == "postgresql+asyncpg://faktura@127.0.0.1:5433/books"
