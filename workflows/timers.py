"""Workflow time in business days: today in Germany, and sleeping until a day begins."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.berlin_time import berlin_date, berlin_midnight


def today() -> date:
    """The German calendar day of the workflow's (deterministic) clock."""
    return berlin_date(workflow.now())


async def sleep_until(day: date | None, wake: Callable[[], bool]) -> None:
    """A durable timer to 00:00 German time of ``day``; returns early when ``wake()`` holds.
    Without a day it waits for ``wake()`` only."""
    if day is None:
        await workflow.wait_condition(wake)
        return
    remaining = berlin_midnight(day) - workflow.now()
    if remaining <= timedelta(0):
        return
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(wake, timeout=remaining, timeout_summary=f"until {day}")
