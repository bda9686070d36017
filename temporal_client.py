"""One way to reach Temporal, shared by API, worker, CLI and tests.

All of them use the same data converter (pydantic: handles ``date`` and ``Decimal``),
otherwise payloads written by one could not be read by another.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from config import Settings

DATA_CONVERTER = pydantic_data_converter


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to the configured namespace; ``lazy`` defers the first network call."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        lazy=lazy,
    )
