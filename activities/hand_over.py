"""The hand-over of a freshly issued invoice as one local step of the contract's workflow.

Documents, e-mail, receivable, first SEPA debit and the pending start of ``invoice-{number}``
ran as five local activities; each cost the worker a workflow activation and the history a marker
(~3 ms of worker CPU per step, measured with bench/bare.py). Every part is idempotent by the
invoice number, so a retry of the whole step repeats nothing: the documents come from this
process's memory or the archive, the outbox row says the mail went out, the receivable and
the debit exist by key, and so does the pending start.

The invoice's workflow is not started here: a row in ``collection_start`` starts it at the
first dunning deadline if the invoice is still open then (activities/collection_starts.py).
Most invoices are paid before, so the server never carries a workflow for them.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from activities.collection import CollectionActivities
from activities.delivery import DeliveryActivities
from activities.invoicing import InvoiceActivities
from db import collection_starts
from db.driver import driver_connection
from domain.berlin_time import berlin_midnight
from workflows.hand_over import first_deadline
from workflows.models import (
    HandOverInput,
    InvoiceHandOver,
    InvoiceWorkflowInput,
    IssuedInvoiceInput,
    NumberInput,
    RenderInvoiceInput,
    RepresentInput,
    SendDocumentInput,
)


class HandOverActivities:
    def __init__(
        self,
        invoices: InvoiceActivities,
        delivery: DeliveryActivities,
        collection: CollectionActivities,
    ) -> None:
        self.invoices = invoices
        self.delivery = delivery
        self.collection = collection

    @activity.defn
    async def hand_over_issued_invoice(self, input: IssuedInvoiceInput) -> InvoiceHandOver:
        """Render, mail, open the receivable, register the first debit, then note the
        invoice's collection for its first dunning deadline."""
        number = input.number
        documents = await self.invoices.render_invoice_documents(RenderInvoiceInput(number=number))
        delivery = await self.delivery.send_document(
            SendDocumentInput(purpose="invoice", reference=number, customer_id=input.customer_id)
        )
        receivable = await self.collection.open_receivable(NumberInput(number=number))
        debit = None
        if receivable.sepa and not receivable.credit_note:
            debit = await self.collection.register_debit(
                RepresentInput(number=number, attempt=1, on=receivable.due_date,
                               today=input.today, amount_cents=receivable.amount_cents)
            )  # fmt: skip
        handed_over = InvoiceHandOver(
            documents=documents.sha256, delivery=delivery, receivable=receivable, debit=debit
        )
        await self.defer_collection(
            InvoiceWorkflowInput(number=number, contract_id=input.contract_id,
                                 customer_id=input.customer_id, handed_over=handed_over),
            berlin_midnight(first_deadline(handed_over)),
        )  # fmt: skip
        return handed_over

    @activity.defn
    async def hand_over_invoice(self, input: HandOverInput) -> None:
        """The last of the five hand-over steps of runs recorded before the one-step
        hand-over."""
        await self.defer_collection(input.invoice, input.wake_at)

    async def defer_collection(self, invoice: InvoiceWorkflowInput, wake_at: datetime) -> None:
        async with driver_connection(self.collection.session_factory) as db:
            await collection_starts.defer(db, invoice, wake_at)
