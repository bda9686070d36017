"""Contract activities: activation via the provisioner, status in the read model."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.provisioning import Provisioner, technical_parameters
from db.models import Contract
from workflows.models import ProvisionInput, ProvisionResult, SetContractStatusInput


class ContractActivities:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], provisioner: Provisioner
    ) -> None:
        self.session_factory = session_factory
        self.provisioner = provisioner

    @activity.defn
    async def provision_contract(self, input: ProvisionInput) -> ProvisionResult:
        contract_id = uuid.UUID(input.contract_id)
        async with self.session_factory() as session:
            parameters = await technical_parameters(session, contract_id)
        return await self.provisioner.request(contract_id, input.action, parameters)

    @activity.defn
    async def set_contract_status(self, input: SetContractStatusInput) -> None:
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(Contract)
                .where(Contract.id == uuid.UUID(input.contract_id))
                .values(status=input.status.value)
            )
