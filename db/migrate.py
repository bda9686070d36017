"""Run Alembic migrations from code (dev stack, tests) or via ``alembic upgrade head``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The option is read through configparser's interpolation: a percent-encoded password
    # or socket path ("%40", "%20") must reach Alembic as it is.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Blocking: call it outside a running event loop."""
    command.upgrade(alembic_config(database_url), revision)
