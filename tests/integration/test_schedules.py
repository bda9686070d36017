"""Fleet jobs are Temporal Schedules, created once by the worker and kept across restarts."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from config import Settings
from worker import PRINT_SCHEDULE_ID, ensure_schedules


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
