"""Fleet jobs are Temporal Schedules, created once by the worker and kept across restarts."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from config import Settings
from worker import (
    COLLECTION_SCHEDULE_ID,
    PRINT_SCHEDULE_ID,
    RETENTION_SCHEDULE_ID,
    ensure_schedules,
)
from workflows.collection_starts import LOOKAHEAD


async def test_daily_print_batch_schedule(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    await ensure_schedules(temporal_env.client, settings)
    await ensure_schedules(temporal_env.client, settings)  # a restart finds it and keeps it
    description = await temporal_env.client.get_schedule_handle(PRINT_SCHEDULE_ID).describe()
    spec = description.schedule.spec
    assert spec.time_zone_name == "Europe/Berlin"
    [calendar] = spec.calendars
    assert [r.start for r in calendar.hour] == [18]
    assert description.schedule.action.workflow == "PrintBatchWorkflow"


async def test_hourly_collection_starts_schedule(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Every hour the invoices whose first dunning deadline comes get their workflow; the
    sweep looks further ahead than its interval, so a skipped hour starts nothing late."""
    await ensure_schedules(temporal_env.client, settings)
    handle = temporal_env.client.get_schedule_handle(COLLECTION_SCHEDULE_ID)
    description = await handle.describe()
    [interval] = description.schedule.spec.intervals
    assert interval.every == timedelta(hours=1) < LOOKAHEAD
    assert description.schedule.action.workflow == "CollectionStartsWorkflow"


async def test_nightly_retention_schedule(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The clean-up runs at night, German time, when neither billing nor the banks' files
    are busy (db/retention.py)."""
    await ensure_schedules(temporal_env.client, settings)
    description = await temporal_env.client.get_schedule_handle(RETENTION_SCHEDULE_ID).describe()
    spec = description.schedule.spec
    assert spec.time_zone_name == "Europe/Berlin"
    [calendar] = spec.calendars
    assert [r.start for r in calendar.hour] == [3]
    assert description.schedule.action.workflow == "RetentionWorkflow"
