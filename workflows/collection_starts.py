"""The hourly sweep that starts the collection workflows of invoices still open at their
first dunning deadline (db/collection_starts.py); run by a Temporal Schedule (worker.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import CollectionStartsInput, CollectionStartsResult
    from workflows.options import FLEET_SWEEP

START_DUE_COLLECTIONS = "start_due_collections"
SCHEDULE_ID = "hourly-collection-starts"
# Each sweep looks this far ahead, so one skipped or failed hour starts nothing late: a run
# due within it starts now with a start delay to its exact deadline.
LOOKAHEAD = timedelta(hours=2)


@workflow.defn
class CollectionStartsWorkflow:
    @workflow.run
    async def run(self, input: CollectionStartsInput | None = None) -> CollectionStartsResult:
        until = input.until if input else workflow.now() + LOOKAHEAD
        return await workflow.execute_activity(
            START_DUE_COLLECTIONS,
            CollectionStartsInput(until=until),
            result_type=CollectionStartsResult,
            **FLEET_SWEEP,
        )
