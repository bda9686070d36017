"""Starting an invoice's workflow from an activity.

The issuing transaction has committed when these run; the workflow id ``invoice-{number}``
makes the start idempotent, so a retried activity (or a crash between commit and start)
never starts a second run. Starting it from an activity instead of as a child workflow
saves the contract's workflow two server round trips per invoice.
"""

from __future__ import annotations

from temporalio import activity

from temporal_client import start_invoice_workflow as start
from workflows.models import InvoiceWorkflowInput


async def start_invoice_workflow(number: str | None, contract_id: str) -> None:
    """Start ``invoice-{number}`` on this activity's task queue unless it exists."""
    if number is None:
        return
    await start(
        activity.client(),
        activity.info().task_queue,
        InvoiceWorkflowInput(number=number, contract_id=contract_id),
    )
