"""The webhook provisioning adapter against a real HTTP server on loopback."""

from __future__ import annotations

import uuid

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.provisioning import WebhookProvisioner
from tests.platform import Platform
from workflows.models import ProvisioningAction


async def test_confirmed_request_carries_the_idempotency_key(platform: Platform) -> None:
    contract_id = uuid.uuid4()
    async with WebhookProvisioner(platform.url) as provisioner:
        result = await provisioner.request(
            contract_id, ProvisioningAction.ACTIVATE, 1, {"items": [{"product_code": "hosting-s"}]}
        )
    assert (result.confirmed, result.reference) == (True, "PX-1")
    [sent] = platform.requests
    assert sent["idempotency_key"] == sent["header_key"] == f"{contract_id}:activate:1"
    assert sent["parameters"]["items"][0]["product_code"] == "hosting-s"


async def test_server_errors_raise_for_temporal_to_retry(platform: Platform) -> None:
    platform.statuses = [503]
    async with WebhookProvisioner(platform.url) as provisioner:
        with pytest.raises(httpx.HTTPStatusError):
            await provisioner.request(uuid.uuid4(), ProvisioningAction.SUSPEND, 1, {})


async def test_refusals_are_not_retried(platform: Platform) -> None:
    platform.statuses = [422]
    async with WebhookProvisioner(platform.url) as provisioner:
        with pytest.raises(ApplicationError) as refused:
            await provisioner.request(uuid.uuid4(), ProvisioningAction.ACTIVATE, 1, {})
    assert refused.value.non_retryable and refused.value.type == "ProvisioningRefused"


async def test_unreachable_platform_raises(platform: Platform) -> None:
    platform.server.shutdown()
    platform.server.server_close()
    async with WebhookProvisioner(platform.url, timeout_seconds=1) as provisioner:
        with pytest.raises(httpx.TransportError):
            await provisioner.request(uuid.uuid4(), ProvisioningAction.ACTIVATE, 1, {})


async def test_requests_share_one_connection(platform: Platform) -> None:
    platform.statuses = [200, 503, 200]  # a server error does not cost the connection
    async with WebhookProvisioner(platform.url) as provisioner:
        await provisioner.request(uuid.uuid4(), ProvisioningAction.ACTIVATE, 1, {})
        with pytest.raises(httpx.HTTPStatusError):
            await provisioner.request(uuid.uuid4(), ProvisioningAction.SUSPEND, 1, {})
        await provisioner.request(uuid.uuid4(), ProvisioningAction.RESUME, 1, {})
    assert len({sent["client_port"] for sent in platform.requests}) == 1
