"""Every workflow the faktura worker runs."""

from workflows.accounting import AccountingExportWorkflow
from workflows.collection_starts import CollectionStartsWorkflow
from workflows.contract import ContractWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.print_batch import PrintBatchWorkflow, SepaBatchWorkflow
from workflows.retention import RetentionWorkflow

WORKFLOWS = [
    ContractWorkflow,
    InvoiceWorkflow,
    PrintBatchWorkflow,
    SepaBatchWorkflow,
    CollectionStartsWorkflow,
    RetentionWorkflow,
    AccountingExportWorkflow,
]
