"""Starting an invoice's workflow from an activity.

The issuing transaction has committed when these run; the workflow id ``invoice-{number}``
makes the start idempotent, so a retried activity (or a crash between commit and start)
never starts a second run. Starting it from an activity instead of as a child workflow
saves the contract's workflow two server round trips per invoice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from temporal_client import start_invoice_workflow as start
from workflows.models import HandOverInput, InvoiceWorkflowInput


async def start_invoice_workflow(number: str | None, contract_id: str) -> None:
    """Start ``invoice-{number}`` on this activity's task queue unless it exists."""
    if number is None:
        return
    await start(
        activity.client(),
        activity.info().task_queue,
        InvoiceWorkflowInput(number=number, contract_id=contract_id),
    )


async def start_idle_until(invoice: InvoiceWorkflowInput, wake_at: datetime) -> None:
    """Start the collection workflow of an invoice the contract's workflow has issued,
    rendered and sent; it stays idle (start delay) until ``wake_at`` or a booking."""
    assert invoice.handed_over is not None
    await start(
        activity.client(),
        activity.info().task_queue,
        invoice,
        start_delay=wake_at - datetime.now(UTC),
        status=invoice.handed_over.status,
    )


@activity.defn
async def hand_over_invoice(input: HandOverInput) -> None:
    """The last of the five hand-over steps of runs recorded before the one-step hand-over."""
    await start_idle_until(input.invoice, input.wake_at)
