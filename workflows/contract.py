"""ContractWorkflow: one durable run per contract (``contract-{id}``) for its whole life.

Activation first: provisioning must confirm before the contract counts as active.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.models import (
        ContractStatus,
        ContractSummary,
        ContractWorkflowInput,
        ProvisioningAction,
        ProvisionInput,
        ProvisionResult,
        SetContractStatusInput,
    )

# Activity names (implemented in activities/; referenced by name so workflows stay IO-free).
PROVISION_CONTRACT = "provision_contract"
SET_CONTRACT_STATUS = "set_contract_status"

DB_STEP = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1)),
}
EXTERNAL_CALL = {
    "start_to_close_timeout": timedelta(minutes=2),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=5),
        maximum_interval=timedelta(minutes=10),
        maximum_attempts=50,
    ),
}


@workflow.defn
class ContractWorkflow:
    @workflow.init
    def __init__(self, input: ContractWorkflowInput) -> None:
        self.input = input
        self.status = ContractStatus.PENDING

    @workflow.run
    async def run(self, input: ContractWorkflowInput) -> ContractSummary:
        await self._activate()
        await workflow.wait_condition(lambda: self.status is ContractStatus.ENDED)
        return ContractSummary(contract_id=input.contract_id, status=self.status)

    async def _activate(self) -> None:
        result: ProvisionResult = await workflow.execute_activity(
            PROVISION_CONTRACT,
            ProvisionInput(contract_id=self.input.contract_id, action=ProvisioningAction.ACTIVATE),
            result_type=ProvisionResult,
            **EXTERNAL_CALL,
        )
        if not result.confirmed:
            raise ApplicationError("provisioning did not confirm", non_retryable=True)
        await self._set_status(ContractStatus.ACTIVE)

    async def _set_status(self, status: ContractStatus) -> None:
        await workflow.execute_activity(
            SET_CONTRACT_STATUS,
            SetContractStatusInput(contract_id=self.input.contract_id, status=status),
            **DB_STEP,
        )
        self.status = status
        workflow.upsert_search_attributes([sa.CONTRACT_STATUS.value_set(status.value)])

    @workflow.query
    def state(self) -> ContractSummary:
        return ContractSummary(contract_id=self.input.contract_id, status=self.status)
