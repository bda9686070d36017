"""Daily fleet jobs, each run by a Temporal Schedule: the print batch and the SEPA file."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import timers
    from workflows.models import PrintBatchInput, PrintBatchResult, SepaBatchInput, SepaBatchResult
    from workflows.options import FILE_WORK

BUILD_PRINT_BATCH = "build_print_batch"
BUILD_SEPA_BATCH = "build_sepa_batch"
SCHEDULE_ID = "daily-print-batch"
SEPA_SCHEDULE_ID = "daily-sepa-batch"


@workflow.defn
class PrintBatchWorkflow:
    """The day's postal documents as one print file."""

    @workflow.run
    async def run(self, input: PrintBatchInput | None = None) -> PrintBatchResult:
        day = input.day if input else timers.today()
        return await workflow.execute_activity(
            BUILD_PRINT_BATCH, PrintBatchInput(day=day), result_type=PrintBatchResult, **FILE_WORK
        )


@workflow.defn
class SepaBatchWorkflow:
    """The day's pain.008 with every debit due by the next TARGET2 business day."""

    @workflow.run
    async def run(self, input: SepaBatchInput | None = None) -> SepaBatchResult:
        day = input.day if input else timers.today()
        return await workflow.execute_activity(
            BUILD_SEPA_BATCH, SepaBatchInput(day=day), result_type=SepaBatchResult, **FILE_WORK
        )
