"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

KEYS = {
    "crm": "test-crm-key",
    "support": "test-support-key",
    "finance": "test-finance-key",
    "admin": "test-admin-key",
}

T = TypeVar("T")


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], within: float = 20
) -> T:
    """Poll ``probe`` until ``check`` holds (workers act asynchronously); return the last value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if check(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)
