"""The hourly sweep that starts the collection workflows of invoices still open at their
first dunning deadline (db/collection_starts.py); run by a Temporal Schedule (worker.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.models import CollectionStartsInput, CollectionStartsResult

START_DUE_COLLECTIONS = "start_due_collections"
SCHEDULE_ID = "hourly-collection-starts"
# Each sweep looks this far ahead, so one skipped or failed hour starts nothing late: a run
# due within it starts now with a start delay to its exact deadline.
LOOKAHEAD = timedelta(hours=2)
SWEEP = {
    "start_to_close_timeout": timedelta(hours=1),
    # heartbeats come with every start: a crashed worker's sweep is retried half a minute
    # later, not at the end of the hour
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}


@workflow.defn
class CollectionStartsWorkflow:
    @workflow.run
    async def run(self, input: CollectionStartsInput | None = None) -> CollectionStartsResult:
        until = input.until if input else workflow.now() + LOOKAHEAD
        return await workflow.execute_activity(
            START_DUE_COLLECTIONS,
            CollectionStartsInput(until=until),
            result_type=CollectionStartsResult,
            **SWEEP,
        )
