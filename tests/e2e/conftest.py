"""Fixtures for API tests: the demo catalog loaded, customers created through the API."""

from __future__ import annotations

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli import DEMO_CATALOG
from db.catalog import load_catalog, read_catalog_file


@pytest_asyncio.fixture
async def catalog(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
