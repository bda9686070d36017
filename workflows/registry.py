"""Every workflow the faktura worker runs."""

from workflows.contract import ContractWorkflow

WORKFLOWS = [ContractWorkflow]
