"""The monthly accounting export (DATEV booking batches); run by a Temporal Schedule
(worker.py) on the 3rd, when the bank statements of the month's last days are in."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import timers
    from workflows.models import AccountingExportInput, AccountingExportResult
    from workflows.options import FLEET_SWEEP

EXPORT_ENDED_MONTHS = "export_ended_months"
SCHEDULE_ID = "monthly-accounting-export"


@workflow.defn
class AccountingExportWorkflow:
    """Every ended month without a batch gets one, in order: a month missed while the
    system was down is caught up by the next run."""

    @workflow.run
    async def run(self, input: AccountingExportInput | None = None) -> AccountingExportResult:
        return await workflow.execute_activity(
            EXPORT_ENDED_MONTHS,
            input or AccountingExportInput(today=timers.today(), cutoff=workflow.now()),
            result_type=AccountingExportResult,
            **FLEET_SWEEP,
        )
