"""Fleet jobs are Temporal Schedules, created once by the worker and kept across restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from config import Settings
from worker import (
    ACCOUNTING_SCHEDULE_ID,
    COLLECTION_SCHEDULE_ID,
    PRINT_SCHEDULE_ID,
    RETENTION_SCHEDULE_ID,
    SEPA_SCHEDULE_ID,
    ensure_schedules,
)
from workflows.collection_starts import LOOKAHEAD


@pytest.mark.parametrize(
    ("schedule_id", "hour", "workflow"),
    [
        (SEPA_SCHEDULE_ID, 6, "SepaBatchWorkflow"),  # before the banks' cut-off
        (PRINT_SCHEDULE_ID, 18, "PrintBatchWorkflow"),
        (RETENTION_SCHEDULE_ID, 3, "RetentionWorkflow"),  # when nothing else is busy
    ],
)
async def test_daily_schedules_run_at_their_german_hour(
    temporal_env: WorkflowEnvironment, settings: Settings, schedule_id: str, hour: int,
    workflow: str,
) -> None:  # fmt: skip
    await ensure_schedules(temporal_env.client, settings)
    await ensure_schedules(temporal_env.client, settings)  # a restart finds it and keeps it
    description = await temporal_env.client.get_schedule_handle(schedule_id).describe()
    spec = description.schedule.spec
    assert spec.time_zone_name == "Europe/Berlin"
    [calendar] = spec.calendars
    assert [r.start for r in calendar.hour] == [hour]
    assert description.schedule.action.workflow == workflow


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


async def test_monthly_accounting_export_on_the_third(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The month before is exported on the 3rd at 05:00 German time, when the bank
    statements of its last days are in."""
    await ensure_schedules(temporal_env.client, settings)
    handle = temporal_env.client.get_schedule_handle(ACCOUNTING_SCHEDULE_ID)
    description = await handle.describe()
    spec = description.schedule.spec
    assert spec.time_zone_name == "Europe/Berlin"
    [calendar] = spec.calendars
    assert [r.start for r in calendar.day_of_month] == [3]
    assert [r.start for r in calendar.hour] == [5]
    assert description.schedule.action.workflow == "AccountingExportWorkflow"
