"""PrintBatchWorkflow: the day's postal documents as one print file; run by a daily Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.berlin_time import berlin_date
    from workflows.models import PrintBatchInput, PrintBatchResult

BUILD_PRINT_BATCH = "build_print_batch"
SCHEDULE_ID = "daily-print-batch"


@workflow.defn
class PrintBatchWorkflow:
    @workflow.run
    async def run(self, input: PrintBatchInput | None = None) -> PrintBatchResult:
        day = input.day if input else berlin_date(workflow.now())
        return await workflow.execute_activity(
            BUILD_PRINT_BATCH,
            PrintBatchInput(day=day),
            result_type=PrintBatchResult,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )
