"""Starting an invoice's workflow from the activity that issued the invoice.

The issuing transaction has committed when this runs; the workflow id ``invoice-{number}``
makes the start idempotent, so a retried activity (or a crash between commit and start)
never starts a second run. Starting it here instead of as a child workflow saves the
contract's workflow two server round trips per invoice.
"""

from __future__ import annotations

import contextlib

from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.models import InvoiceWorkflowInput

INVOICE_WORKFLOW = "InvoiceWorkflow"


def invoice_workflow_id(number: str) -> str:
    return f"invoice-{number}"


async def start_invoice_workflow(number: str | None, contract_id: str) -> None:
    """Start ``invoice-{number}`` on this activity's task queue unless it exists."""
    if number is None:
        return
    with contextlib.suppress(WorkflowAlreadyStartedError):  # a closed run: started before
        await activity.client().start_workflow(
            INVOICE_WORKFLOW,
            InvoiceWorkflowInput(number=number, contract_id=contract_id),
            id=invoice_workflow_id(number),
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Invoice {number} of contract {contract_id}",
        )
