"""InvoiceWorkflow: one visible run per issued invoice (``invoice-{number}``).

Started by the contract's workflow as a child with parent-close policy ABANDON, so it
outlives the parent's continue-as-new. Today it renders and archives the documents;
delivery and collection extend it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.models import (
        InvoiceDocuments,
        InvoiceSummary,
        InvoiceWorkflowInput,
        RenderInvoiceInput,
    )

RENDER_INVOICE_DOCUMENTS = "render_invoice_documents"

RENDERING = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}


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
        self.status = "documents_ready"
        workflow.upsert_search_attributes([sa.INVOICE_STATUS.value_set(self.status)])
        return InvoiceSummary(number=input.number, documents=documents.sha256)

    @workflow.query
    def status_of(self) -> str:
        return self.status
