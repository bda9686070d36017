"""Payloads that cross the Temporal boundary (pydantic; one model per input/result).

Fields may be added with defaults; never rename or remove one that a running
workflow's history still holds.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class ContractStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class ProvisioningAction(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    RESUME = "resume"
    DEPROVISION = "deprovision"


class ContractWorkflowInput(BaseModel):
    contract_id: str
    customer_id: str


class ContractSummary(BaseModel):
    contract_id: str
    status: ContractStatus


class ProvisionInput(BaseModel):
    contract_id: str
    action: ProvisioningAction


class ProvisionResult(BaseModel):
    confirmed: bool
    reference: str


class SetContractStatusInput(BaseModel):
    contract_id: str
    status: ContractStatus
