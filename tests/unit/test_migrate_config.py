"""The database URL reaches Alembic unchanged, percent-encoding included (db/migrate.py)."""

from __future__ import annotations

from db.migrate import alembic_config


def test_a_percent_encoded_url_reaches_alembic_as_it_is() -> None:
    url = "postgresql+asyncpg://faktura:p%40ss@/faktura?host=/home/a%20b/var/postgres&port=5432"
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url
