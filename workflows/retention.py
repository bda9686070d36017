"""The daily clean-up of operational rows (db/retention.py); run by a Temporal Schedule
(worker.py)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import RetentionInput, RetentionResult
    from workflows.options import FLEET_SWEEP

FORGET_EXPIRED_ROWS = "forget_expired_rows"
SCHEDULE_ID = "daily-retention"


@workflow.defn
class RetentionWorkflow:
    @workflow.run
    async def run(self, input: RetentionInput | None = None) -> RetentionResult:
        return await workflow.execute_activity(
            FORGET_EXPIRED_ROWS,
            input or RetentionInput(now=workflow.now()),
            result_type=RetentionResult,
            **FLEET_SWEEP,
        )
