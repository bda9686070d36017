"""Daily fleet jobs, each run by a Temporal Schedule: the print batch and the SEPA file."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import timers
    from workflows.models import PrintBatchInput, PrintBatchResult, SepaBatchInput, SepaBatchResult

BUILD_PRINT_BATCH = "build_print_batch"
BUILD_SEPA_BATCH = "build_sepa_batch"
SCHEDULE_ID = "daily-print-batch"
SEPA_SCHEDULE_ID = "daily-sepa-batch"
BATCH_STEP = {
    "start_to_close_timeout": timedelta(minutes=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}


@workflow.defn
class PrintBatchWorkflow:
    """The day's postal documents as one print file."""

    @workflow.run
    async def run(self, input: PrintBatchInput | None = None) -> PrintBatchResult:
        day = input.day if input else timers.today()
        return await workflow.execute_activity(
            BUILD_PRINT_BATCH, PrintBatchInput(day=day), result_type=PrintBatchResult, **BATCH_STEP
        )


@workflow.defn
class SepaBatchWorkflow:
    """The day's pain.008 with every debit due by the next TARGET2 business day."""

    @workflow.run
    async def run(self, input: SepaBatchInput | None = None) -> SepaBatchResult:
        day = input.day if input else timers.today()
        return await workflow.execute_activity(
            BUILD_SEPA_BATCH, SepaBatchInput(day=day), result_type=SepaBatchResult, **BATCH_STEP
        )
