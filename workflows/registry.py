"""Every workflow the faktura worker runs."""

from workflows.contract import ContractWorkflow
from workflows.invoice import InvoiceWorkflow

WORKFLOWS = [ContractWorkflow, InvoiceWorkflow]
