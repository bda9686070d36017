"""InvoiceWorkflow: one visible run per issued invoice (``invoice-{number}``).

Started by the contract's workflow as a child with parent-close policy ABANDON, so it
outlives the parent's continue-as-new. It renders and archives the documents, then
delivers them (e-mail, or post); collection extends it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.models import (
        DeliveryResult,
        InvoiceDocuments,
        InvoiceSummary,
        InvoiceWorkflowInput,
        RenderInvoiceInput,
        SendDocumentInput,
    )

RENDER_INVOICE_DOCUMENTS = "render_invoice_documents"
SEND_DOCUMENT = "send_document"

RENDERING = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}
# Transient SMTP failures back off from 2 s to 5 min; the activity itself gives up after
# FAKTURA_SMTP_MAX_ATTEMPTS and posts the document instead, so this never runs forever.
DELIVERY = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=2),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=5),
    ),
}
DELIVER_DOCUMENTS = "deliver-documents"  # patch: runs recorded before delivery existed


@workflow.defn
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, input: InvoiceWorkflowInput) -> None:
        self.status = "issued"

    @workflow.run
    async def run(self, input: InvoiceWorkflowInput) -> InvoiceSummary:
        documents: InvoiceDocuments = await workflow.execute_activity(
            RENDER_INVOICE_DOCUMENTS,
            RenderInvoiceInput(number=input.number),
            result_type=InvoiceDocuments,
            **RENDERING,
        )
        self._set_status("documents_ready")
        delivery = None
        if workflow.patched(DELIVER_DOCUMENTS):
            customer_id = input.customer_id or documents.customer_id
            delivery = await workflow.execute_activity(
                SEND_DOCUMENT,
                SendDocumentInput(
                    purpose="invoice", reference=input.number, customer_id=customer_id or ""
                ),
                result_type=DeliveryResult,
                **DELIVERY,
            )
            self._set_status(f"delivered_{delivery.channel.value}")
        return InvoiceSummary(number=input.number, documents=documents.sha256, delivery=delivery)

    def _set_status(self, status: str) -> None:
        self.status = status
        workflow.upsert_search_attributes([sa.INVOICE_STATUS.value_set(status)])

    @workflow.query
    def status_of(self) -> str:
        return self.status
