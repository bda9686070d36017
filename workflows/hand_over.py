"""Issuing an invoice inside the contract's workflow, then handing it over for collection.

On a billing day the contract's workflow renders the documents, sends the e-mail, opens
the receivable and registers the SEPA debit in its own workflow task, and only then hands
the invoice over: a pending start of ``invoice-{number}`` at the first deadline of the
dunning ladder, taken only if the invoice is still open then; a return debit starts it at
once (db/collection_starts.py, temporal_client.notify_bookings). This saves the server a
second workflow's task and timer on the billing day (the bare ceiling rose from 14.4 to
21.7 invoices/s) and, since the pending start, the workflow itself for every invoice paid
in time (docs/PERFORMANCE.md). Since the patch ``one-step-hand-over`` all of it is one
local activity (activities/hand_over.py); older histories replay five.
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.berlin_time import berlin_midnight
    from domain.dunning import default_policy
    from workflows import versions
    from workflows.invoice import (
        OPEN_RECEIVABLE,
        REGISTER_DEBIT,
        RENDER_INVOICE_DOCUMENTS,
        SEND_DOCUMENT,
    )
    from workflows.models import (
        DebitRegistration,
        DeliveryResult,
        HandOverInput,
        InvoiceDocuments,
        InvoiceHandOver,
        InvoiceWorkflowInput,
        IssuedInvoiceInput,
        NumberInput,
        ReceivableInfo,
        RenderInvoiceInput,
        RepresentInput,
        SendDocumentInput,
    )
    from workflows.options import DB_STEP, DELIVERY, FILE_WORK, HAND_OVER
    from workflows.steps import run_step

HAND_OVER_INVOICE = "hand_over_invoice"
HAND_OVER_ISSUED_INVOICE = "hand_over_issued_invoice"
# Runs from this patch on do the whole hand-over in one local step (activities/hand_over.py);
# histories recorded before it replay the five steps below.
ONE_STEP_HAND_OVER = "one-step-hand-over"


async def hand_over(number: str, contract_id: str, customer_id: str, today: date) -> None:
    """Documents, e-mail, receivable and debit of a freshly issued invoice, then its workflow."""
    if versions.patched(ONE_STEP_HAND_OVER):
        await workflow.execute_local_activity(
            HAND_OVER_ISSUED_INVOICE,
            IssuedInvoiceInput(
                number=number, contract_id=contract_id, customer_id=customer_id, today=today
            ),
            result_type=InvoiceHandOver,
            **HAND_OVER,
        )
    else:
        await issue_and_hand_over(number, contract_id, customer_id, today)


async def issue_and_hand_over(
    number: str, contract_id: str, customer_id: str, today: date
) -> InvoiceHandOver:
    """Documents, e-mail, receivable and first debit of a freshly issued invoice, then the
    start of its collection workflow. Every step is idempotent by the invoice number."""
    documents: InvoiceDocuments = await run_step(
        RENDER_INVOICE_DOCUMENTS, RenderInvoiceInput(number=number), FILE_WORK, InvoiceDocuments
    )
    delivery: DeliveryResult = await run_step(
        SEND_DOCUMENT,
        SendDocumentInput(purpose="invoice", reference=number, customer_id=customer_id),
        DELIVERY,
        DeliveryResult,
    )
    receivable: ReceivableInfo = await run_step(
        OPEN_RECEIVABLE, NumberInput(number=number), DB_STEP, ReceivableInfo
    )
    debit = None
    if receivable.sepa and not receivable.credit_note:
        debit = await run_step(
            REGISTER_DEBIT,
            RepresentInput(
                number=number,
                attempt=1,
                on=receivable.due_date,
                today=today,
                amount_cents=receivable.amount_cents,
            ),
            DB_STEP,
            DebitRegistration,
        )
    handed_over = InvoiceHandOver(
        documents=documents.sha256, delivery=delivery, receivable=receivable, debit=debit
    )
    await run_step(
        HAND_OVER_INVOICE,
        HandOverInput(
            invoice=InvoiceWorkflowInput(
                number=number,
                contract_id=contract_id,
                customer_id=customer_id,
                handed_over=handed_over,
            ),
            wake_at=berlin_midnight(first_deadline(handed_over)),
        ),
        DB_STEP,
    )
    return handed_over


def first_deadline(handed_over: InvoiceHandOver) -> date:
    """Nothing is due before the ladder's first step unless a booking arrives; a credit
    note has nothing to collect and closes on its due day."""
    receivable = handed_over.receivable
    first = default_policy(receivable.business).step_after(None)
    if receivable.credit_note or first is None:
        return receivable.due_date
    return handed_over.ladder_due() + timedelta(days=first.days_after_due)
