"""Composition root of the worker: settings -> engine -> adapters -> Worker.

Run with ``python worker.py``; SIGINT/SIGTERM stop polling, let running activities
finish (bounded) and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleRange,
    ScheduleSpec,
)
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.delivery import Mailer
from activities.registry import build_activities
from config import Settings, get_settings, tune_garbage_collector
from db.engine import make_engine, make_session_factory
from temporal_client import connect
from workflows.accounting import SCHEDULE_ID as ACCOUNTING_SCHEDULE_ID
from workflows.accounting import AccountingExportWorkflow
from workflows.collection_starts import SCHEDULE_ID as COLLECTION_SCHEDULE_ID
from workflows.collection_starts import CollectionStartsWorkflow
from workflows.print_batch import SCHEDULE_ID as PRINT_SCHEDULE_ID
from workflows.print_batch import SEPA_SCHEDULE_ID, PrintBatchWorkflow, SepaBatchWorkflow
from workflows.registry import WORKFLOWS
from workflows.retention import SCHEDULE_ID as RETENTION_SCHEDULE_ID
from workflows.retention import RetentionWorkflow

log = logging.getLogger("faktura.worker")


def workflow_runner(sandbox: bool) -> WorkflowRunner:
    """The strict default sandbox (tests, ``FAKTURA_WORKFLOW_SANDBOX=true``) or none.

    Without it a workflow task costs the worker ~12 % less CPU (docs/PERFORMANCE.md); the
    determinism it checks at run time is checked by the tests instead: the in-process
    workflow tests and the replay of every recorded history run in the strict sandbox (the
    chaos and fuzz runs start worker processes as in production, without it)."""
    return SandboxedWorkflowRunner() if sandbox else UnsandboxedWorkflowRunner()


@asynccontextmanager
async def running_worker(
    settings: Settings,
    client: Client | None = None,
    *,
    task_queue: str | None = None,
    mailer: Mailer | None = None,
) -> AsyncIterator[Worker]:
    """A started worker with every workflow and activity of faktura, wired to ``settings``."""
    engine = make_engine(settings.database_url, settings.db_pool_size)
    try:
        client = client or await connect(settings)
        async with contextlib.AsyncExitStack() as closing:  # after the worker has stopped
            activities: Sequence[Callable[..., Any]] = build_activities(
                settings, make_session_factory(engine), closing, mailer
            )
            worker = Worker(
                client,
                task_queue=task_queue or settings.temporal_task_queue,
                workflows=WORKFLOWS,
                activities=activities,
                workflow_runner=workflow_runner(settings.workflow_sandbox),
                max_concurrent_workflow_tasks=settings.worker_workflow_tasks,
                max_concurrent_local_activities=settings.worker_local_activities,
                graceful_shutdown_timeout=timedelta(seconds=10),
            )
            async with worker:
                yield worker
    finally:
        await engine.dispose()


def _schedule(
    workflow_run: Any, workflow_id: str, spec: ScheduleSpec, settings: Settings
) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow_run, id=workflow_id, task_queue=settings.temporal_task_queue
        ),
        spec=spec,
    )


def _daily_at(hour: int) -> ScheduleSpec:
    return ScheduleSpec(
        calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(0)])],
        time_zone_name="Europe/Berlin",
    )


HOURLY = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])
# The 3rd, 05:00: the bank statements of the month's last days are in by then.
MONTHLY_ON_THE_THIRD = ScheduleSpec(
    calendars=[
        ScheduleCalendarSpec(
            day_of_month=[ScheduleRange(3)], hour=[ScheduleRange(5)], minute=[ScheduleRange(0)]
        )
    ],
    time_zone_name="Europe/Berlin",
)


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Fleet jobs as Temporal Schedules (created once, kept across restarts): the SEPA file
    early in the morning (before the banks' cut-off), the print batch in the evening, and
    every hour the start of the collections that are due (workflows/collection_starts.py),
    at night the clean-up of rows that outlived their purpose (db/retention.py), and each
    month the accounting export of the month before (workflows/accounting.py)."""
    for schedule_id, schedule in (
        (SEPA_SCHEDULE_ID, _schedule(SepaBatchWorkflow.run, "sepa-batch", _daily_at(6), settings)),
        (PRINT_SCHEDULE_ID,
         _schedule(PrintBatchWorkflow.run, "print-batch", _daily_at(18), settings)),
        (COLLECTION_SCHEDULE_ID,
         _schedule(CollectionStartsWorkflow.run, "collection-starts", HOURLY, settings)),
        (RETENTION_SCHEDULE_ID,
         _schedule(RetentionWorkflow.run, "retention", _daily_at(3), settings)),
        (ACCOUNTING_SCHEDULE_ID,
         _schedule(AccountingExportWorkflow.run, "accounting-export", MONTHLY_ON_THE_THIRD,
                   settings)),
    ):  # fmt: skip
        with contextlib.suppress(ScheduleAlreadyRunningError):
            await client.create_schedule(schedule_id, schedule)


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await connect(settings)
    await ensure_schedules(client, settings)
    async with running_worker(settings, client):
        log.info(
            "worker polling task queue %s on %s",
            settings.temporal_task_queue,
            settings.temporal_address,
        )
        await stop.wait()
        log.info("shutting down")


def main() -> None:
    tune_garbage_collector()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(get_settings()))


if __name__ == "__main__":
    main()
