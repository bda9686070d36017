"""Provisioning: telling the hosting platform to activate, suspend, resume or remove a contract.

``Provisioner`` is the port. ``RecordingProvisioner`` (default) writes the request to the
``provisioning_request`` table, where the platform picks it up and support can read it;
``WebhookProvisioner`` POSTs it to the platform (``FAKTURA_PROVISIONING_WEBHOOK_URL``).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from db.models import Contract, ContractVersion, Customer, ProvisioningRequest, utcnow
from workflows.models import ProvisioningAction, ProvisionResult


class Provisioner(Protocol):
    async def request(
        self,
        contract_id: uuid.UUID,
        action: ProvisioningAction,
        sequence: int,
        parameters: dict[str, Any],
    ) -> ProvisionResult:
        """Ask for ``action``; the n-th request of an action has ``sequence`` n, so a
        retried request can be recognised and answered with the first one's outcome."""
        ...


class RecordingProvisioner:
    """Records one row per (contract, action, sequence); a retry finds the same row."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def request(
        self,
        contract_id: uuid.UUID,
        action: ProvisioningAction,
        sequence: int,
        parameters: dict[str, Any],
    ) -> ProvisionResult:
        async with self.session_factory() as session, session.begin():
            await session.execute(
                insert(ProvisioningRequest)
                .values(
                    contract_id=contract_id,
                    action=action.value,
                    sequence=sequence,
                    parameters=parameters,
                    confirmed_at=utcnow(),
                )
                .on_conflict_do_nothing()
            )
            row = (
                await session.execute(
                    select(ProvisioningRequest).where(
                        ProvisioningRequest.contract_id == contract_id,
                        ProvisioningRequest.action == action.value,
                        ProvisioningRequest.sequence == sequence,
                    )
                )
            ).scalar_one()
        return ProvisionResult(confirmed=row.confirmed_at is not None, reference=str(row.id))


async def technical_parameters(session: AsyncSession, contract_id: uuid.UUID) -> dict[str, Any]:
    """What the platform needs: products and domains of the current version, no personal data."""
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise LookupError(f"contract {contract_id} not found")
    version = (
        await session.execute(
            select(ContractVersion)
            .where(ContractVersion.contract_id == contract_id)
            .order_by(ContractVersion.version.desc())
            .limit(1)
        )
    ).scalar_one()
    customer = await session.get(Customer, contract.customer_id)
    return {
        "contract_id": str(contract_id),
        "customer_id": str(customer.id) if customer else None,
        "items": version.items,
    }


class WebhookProvisioner:
    """POSTs each request as JSON to the platform's URL.

    2xx confirms (a body may say ``{"confirmed": false}``); 4xx is a refusal that no retry
    will change; 5xx and network errors raise, and Temporal retries with bounded backoff.
    The idempotency key lets the platform recognise a retried request.
    """

    def __init__(self, url: str, timeout_seconds: float = 10.0) -> None:
        self.url = url
        # One client for the worker's life (closed by ``aclose``): a client of its own per
        # request cost ~37 ms of CPU (its TLS context loads the CA bundle) and a new
        # connection each time.
        self.client = httpx.AsyncClient(timeout=timeout_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> WebhookProvisioner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        contract_id: uuid.UUID,
        action: ProvisioningAction,
        sequence: int,
        parameters: dict[str, Any],
    ) -> ProvisionResult:
        key = f"{contract_id}:{action.value}:{sequence}"
        payload = {
            "idempotency_key": key,
            "contract_id": str(contract_id),
            "action": action.value,
            "sequence": sequence,
            "parameters": parameters,
        }
        response = await self.client.post(self.url, json=payload, headers={"Idempotency-Key": key})
        if 400 <= response.status_code < 500:
            raise ApplicationError(
                f"provisioning refused {action.value}: HTTP {response.status_code} "
                f"{response.text[:200]}",
                type="ProvisioningRefused",
                non_retryable=True,
            )
        response.raise_for_status()
        body = response.json() if response.content else {}
        return ProvisionResult(
            confirmed=bool(body.get("confirmed", True)), reference=str(body.get("reference", key))
        )
