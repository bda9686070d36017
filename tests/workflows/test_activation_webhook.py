"""Activation through the webhook adapter, and what support sees of a running contract."""

from __future__ import annotations

import httpx
from temporalio.testing import WorkflowEnvironment

from config import Settings
from domain.berlin_time import berlin_today
from tests.factories import contract_body, create_customer
from tests.helpers import auth, eventually
from tests.platform import Platform
from worker import running_worker


async def test_activation_via_webhook_and_support_view(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    catalog: None,
    platform: Platform,
) -> None:
    webhook = settings.model_copy(update={"provisioning_webhook_url": platform.url})
    async with running_worker(webhook, temporal_env.client):
        customer = await create_customer(api)
        start = berlin_today().replace(day=1)
        body = contract_body(customer["id"], start_date=start.isoformat())
        contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()
        path = f"/v1/contracts/{contract['id']}/state"

        async def view() -> dict:
            response = await api.get(path, headers=auth("support"))
            return response.json() if response.status_code == 200 else {}

        state = await eventually(view, lambda v: v.get("periods_billed", 0) >= 1)
        assert state["status"] == "active" and state["periods_billed"] == 1
        assert state["next_billing_date"] > berlin_today().isoformat()
        assert state["dunning_level"] == 0 and state["rejected_requests"] == []

    [request] = platform.requests
    assert request["action"] == "activate"
    assert request["idempotency_key"] == f"{contract['id']}:activate:1"
    assert request["parameters"]["items"][0]["domain"] == "beispiel.de"

    query = (
        f"ExecutionStatus = 'Running' AND CustomerId = '{customer['id']}' "
        "AND ContractStatus = 'active' "
        f"AND DunningLevel = 0 AND NextBillingDate > '{berlin_today().isoformat()}T00:00:00Z'"
    )
    found = await eventually(lambda: temporal_env.client.count_workflows(query), lambda c: c.count)
    assert found.count == 1
    description = await temporal_env.client.get_workflow_handle(
        f"contract-{contract['id']}"
    ).describe()
    assert "Max" not in str(description.typed_search_attributes)  # no personal data
