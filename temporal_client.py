"""One way to reach Temporal, shared by API, worker, CLI and tests.

All of them use the same data converter (pydantic: handles ``date`` and ``Decimal``),
otherwise payloads written by one could not be read by another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from config import Settings
from db.receivables import Booked
from workflows.models import InvoiceWorkflowInput, PaymentEvent
from workflows.search_attributes import INVOICE_STATUS
from workflows.versions import SHAPE

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
    client: Client,
    task_queue: str,
    input: InvoiceWorkflowInput,
    summary: str | None = None,
    *,
    start_delay: timedelta | None = None,
    status: str | None = None,
    signal: PaymentEvent | None = None,
    reopen: bool = False,
) -> None:
    """Start ``invoice-{number}`` once: a running run is kept, a closed one is not started
    again, so a retried activity or a repeated request never makes a second run.

    ``start_delay`` keeps it idle (no task, no history beyond its start) until then;
    ``signal`` delivers a booking and ends such a delay at once (signal-with-start);
    ``reopen`` starts a new run after a closed one (a return debit after the invoice was paid).
    The run has this code's shape: every change is on without patch markers (versions.py)."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            "InvoiceWorkflow",
            input.model_copy(update={"shape": SHAPE}),
            id=invoice_workflow_id(input.number),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if reopen
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=summary or f"Invoice {input.number} of contract {input.contract_id}",
            start_delay=start_delay if start_delay and start_delay > timedelta(0) else None,
            search_attributes=TypedSearchAttributes([SearchAttributePair(INVOICE_STATUS, status)])
            if status
            else None,
            start_signal="payment_booked" if signal else None,
            start_signal_args=[signal] if signal else [],
        )


async def notify_bookings(client: Client, task_queue: str, bookings: Sequence[Booked]) -> None:
    """Tell each invoice's workflow about its bookings (it dedupes by booking key). The
    database already holds them; a workflow that has finished needs no message.

    Signal-with-start: a workflow the contract's workflow started with a start delay wakes
    now; one that does not exist yet (the booking raced the hand-over) starts and collects
    by itself, each of its steps idempotent. A return debit after the invoice's workflow
    ended as paid starts a new run, which presents the debit again or asks for a transfer."""
    for booked in bookings:
        event = PaymentEvent(
            key=booked.key, kind=booked.kind, amount_cents=booked.amount_cents,
            open_cents=booked.open_cents, reason=booked.reason, fee_cents=booked.fee_cents,
        )  # fmt: skip
        with contextlib.suppress(RPCError):
            await start_invoice_workflow(
                client,
                task_queue,
                InvoiceWorkflowInput(number=booked.invoice_number, contract_id=booked.contract_id),
                signal=event,
                reopen=booked.kind == "return",
            )
