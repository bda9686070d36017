"""One way to reach Temporal, shared by API, worker, CLI and tests.

All of them use the same data converter (pydantic: handles ``date`` and ``Decimal``),
otherwise payloads written by one could not be read by another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from config import Settings
from db.receivables import Booked
from workflows.models import InvoiceWorkflowInput, PaymentEvent

DATA_CONVERTER = pydantic_data_converter


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to the configured namespace; ``lazy`` defers the first network call."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        lazy=lazy,
    )


def invoice_workflow_id(number: str) -> str:
    return f"invoice-{number}"


async def start_invoice_workflow(
    client: Client, task_queue: str, input: InvoiceWorkflowInput, summary: str
) -> None:
    """Start ``invoice-{number}`` once: a running run is kept, a closed one is not started
    again, so a retried activity or a repeated request never makes a second run."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            "InvoiceWorkflow",
            input,
            id=invoice_workflow_id(input.number),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary,
        )


async def notify_bookings(client: Client, bookings: Sequence[Booked]) -> None:
    """Tell each invoice's workflow about its bookings (it dedupes by booking key). The
    database already holds them; a workflow that has finished needs no message."""
    for booked in bookings:
        handle = client.get_workflow_handle(invoice_workflow_id(booked.invoice_number))
        event = PaymentEvent(
            key=booked.key, kind=booked.kind, amount_cents=booked.amount_cents,
            open_cents=booked.open_cents, reason=booked.reason, fee_cents=booked.fee_cents,
        )  # fmt: skip
        with contextlib.suppress(RPCError):
            await handle.signal("payment_booked", event)
