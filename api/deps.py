"""Request-scoped dependencies: settings, DB session, Temporal client.

All are coroutines, even the plain reads: FastAPI runs a plain ``def`` dependency in its
thread pool (tests/unit/test_no_thread_pool.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from config import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.session_factory() as session:
        yield session


async def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
