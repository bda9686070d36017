"""One way to reach Temporal, shared by API, worker, CLI and tests.

All of them use the same data converter (pydantic: handles ``date`` and ``Decimal``),
otherwise payloads written by one could not be read by another.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError

from config import Settings
from db import booking_notices, collection_starts
from db.collection_starts import STARTED, CollectionStartRow
from db.driver import driver_connection, driver_transaction
from db.receivables import Booked
from outages import Passed, pass_on
from workflows.models import InvoiceWorkflowInput, PaymentEvent
from workflows.search_attributes import INVOICE_STATUS
from workflows.versions import SHAPE

DATA_CONVERTER = pydantic_data_converter
log = logging.getLogger("faktura.temporal")


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


async def start_collection(
    client: Client, task_queue: str, row: CollectionStartRow, signal: PaymentEvent | None = None
) -> None:
    """Start the invoice's workflow as handed over: idle until the row's deadline, or at once
    with a booking (a return debit)."""
    invoice = row.input
    if invoice.handed_over is None:
        raise ValueError(f"the collection input of {row.number} lacks its hand-over")
    await start_invoice_workflow(
        client,
        task_queue,
        invoice,
        start_delay=None if signal else row.wake_at - datetime.now(UTC),
        status=invoice.handed_over.status,
        signal=signal,
        reopen=signal is not None,
    )


async def notify_bookings(
    client: Client,
    task_queue: str,
    bookings: Sequence[Booked],
    session_factory: async_sessionmaker[AsyncSession],
) -> Passed:
    """Tell each invoice's workflow about its bookings (it dedupes by booking key). The
    database already holds them; at an outage (outages.py) the rest are left to the relay
    (db/booking_notices.py). A booking that fails for a reason of its own is noted as failed
    and the others go on.

    An invoice whose collection has not started (db/collection_starts.py) needs no message
    for a payment: its start looks at the receivable when its time comes. A return debit
    starts it at once, as handed over, with the booking (signal-with-start).

    Otherwise signal-with-start: a running workflow hears of it; one that does not exist yet
    (the booking raced the hand-over) starts and collects by itself, each of its steps
    idempotent. A return debit after the invoice's workflow ended as paid starts a new run,
    which presents the debit again or asks for a transfer."""
    if not bookings:
        return Passed()
    async with driver_connection(session_factory) as db:
        deferred = await collection_starts.of_invoices(db, [b.invoice_number for b in bookings])

    async def tell(booked: Booked) -> None:
        row = deferred.get(booked.invoice_number)
        await _notify(client, task_queue, booked, row, session_factory)

    return await pass_on(bookings, tell, lambda booked: booked.key)


async def _notify(
    client: Client,
    task_queue: str,
    booked: Booked,
    row: CollectionStartRow | None,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    event = PaymentEvent(
        key=booked.key, kind=booked.kind, amount_cents=booked.amount_cents,
        open_cents=booked.open_cents, reason=booked.reason, fee_cents=booked.fee_cents,
    )  # fmt: skip
    if row is not None and row.state != STARTED and row.stored_input is not None:
        if booked.kind == "return":
            await start_collection(client, task_queue, row, event)
            async with driver_connection(session_factory) as db:
                await collection_starts.mark(db, [row.number], STARTED)
        return
    await start_invoice_workflow(
        client,
        task_queue,
        InvoiceWorkflowInput(number=booked.invoice_number, contract_id=booked.contract_id),
        signal=event,
        reopen=booked.kind == "return",
    )


async def deliver_bookings(
    client: Client,
    task_queue: str,
    bookings: Sequence[Booked],
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Right after the bookings' commit: tell the workflows, and note whom."""
    passed = await notify_bookings(client, task_queue, bookings, session_factory)
    async with driver_connection(session_factory) as db:
        await booking_notices.settle(db, passed.done, passed.failed)


async def relay_bookings(
    client: Client,
    task_queue: str,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    older_than: timedelta,
    limit: int = 100,
) -> int:
    """Deliver what a request could not (Temporal down, the process gone); returns how many
    were told. The rows stay locked meanwhile, so two relays never send one twice."""
    async with driver_transaction(session_factory) as db:
        pending = await booking_notices.undelivered(db, older_than, limit)
        passed = await notify_bookings(client, task_queue, pending, session_factory)
        await booking_notices.settle(db, passed.done, passed.failed)
    return len(passed.done)
