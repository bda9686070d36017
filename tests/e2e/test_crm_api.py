"""The CRM API: validation (422 naming the field, nothing written), idempotency, history,
and the workflow start that is never lost and never doubled."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api import workflow_starts
from api.main import create_app
from api.workflow_starts import LEFT_AFTER, start_created, start_pending
from config import Settings
from db.models import Contract, ContractVersion, Customer, ProvisioningRequest, WorkflowStart
from devstack.processes import free_port
from temporal_client import connect
from tests.factories import business_body, consumer_body, contract_body, create_customer
from tests.helpers import auth, eventually, relay_state

pytestmark = pytest.mark.usefixtures("catalog")


async def count_rows(factory: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with factory() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def error_locs(response: httpx.Response) -> list[tuple[str | int, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(error["loc"]) for error in response.json()["detail"]]


CUSTOMER_CASES = [
    ("kind", {"kind": "robot"}),
    ("email", {"email": "not-an-address"}),
    ("vat_id", {"vat_id": "DE136695976"}),  # consumers have none
    ("company", {"kind": "business", "vat_id": None}),
    ("address.country", {"address": {**consumer_body()["address"], "country": "XX"}}),
    ("address.postcode", {"address": {**consumer_body()["address"], "postcode": "5066"}}),
    ("sepa_mandate.iban", {"sepa_mandate": {**consumer_body()["sepa_mandate"], "iban": "DE89370400440532013001"}}),
    ("sepa_mandate.mandate_reference", {"sepa_mandate": {**consumer_body()["sepa_mandate"], "mandate_reference": "x" * 36}}),
    ("sepa_mandate", {"sepa_mandate": None}),
    ("buyer_reference", {"buyer_reference": "991-12345-00"}),
    ("crm_reference", {"crm_reference": "has space"}),
    ("invoice_channel", {"invoice_channel": "fax"}),
]  # fmt: skip


@pytest.mark.parametrize(("field", "change"), CUSTOMER_CASES, ids=[c[0] for c in CUSTOMER_CASES])
async def test_bad_customer_field_is_named_and_nothing_written(
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    field: str,
    change: dict[str, Any],
) -> None:
    before = await count_rows(session_factory, Customer)
    response = await api.post("/v1/customers", json=consumer_body(**change), headers=auth("crm"))
    locs = error_locs(response)
    assert any(".".join(map(str, loc[1:])).startswith(field) for loc in locs), locs
    assert await count_rows(session_factory, Customer) == before


async def test_a_mandate_reference_belongs_to_one_customer(
    api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = await create_customer(api)
    mandate = {
        **consumer_body()["sepa_mandate"],
        "mandate_reference": first["sepa_mandate"]["mandate_reference"],
    }
    before = await count_rows(session_factory, Customer)
    response = await api.post(
        "/v1/customers", json=consumer_body(sepa_mandate=mandate), headers=auth("crm")
    )
    assert ("body", "sepa_mandate", "mandate_reference") in error_locs(response)
    assert await count_rows(session_factory, Customer) == before


async def test_business_customer_with_vat_id_and_derived_bic(api: httpx.AsyncClient) -> None:
    created = await create_customer(
        api,
        business_body(
            payment_method="sepa_direct_debit", sepa_mandate=consumer_body()["sepa_mandate"]
        ),
    )
    assert created["vat_id"] == "DE136695976"
    assert created["price_list_code"] == "business"
    assert created["sepa_mandate"]["iban"] == "DE89370400440532013000"
    assert created["sepa_mandate"]["bic"] == "COBADEFFXXX"
    fetched = await api.get(f"/v1/customers/{created['id']}", headers=auth("support"))
    assert fetched.json()["crm_reference"] == created["crm_reference"]


CONTRACT_CASES = [
    ("items.0.product_code", {"items": [{"product_code": "no-such-product"}]}),
    ("items.0.product_code", {"start_date": "2019-06-01"}),  # not orderable yet
    ("items.0.domain", {"items": [{"product_code": "domain-de"}]}),  # needs a domain
    ("items.0.domain", {"items": [{"product_code": "domain-de", "domain": "beispiel.org"}]}),
    ("items.0.domain", {"items": [{"product_code": "domain-de", "domain": "beispiel.com"}]}),
    ("items.0.domain", {"items": [{"product_code": "domain-de", "domain": "-bad-.de"}]}),
    ("items.0.quantity", {"items": [{"product_code": "mailbox-extra", "quantity": 0}]}),
    ("items.0.quantity", {"items": [{"product_code": "hosting-s-monthly", "quantity": 2}]}),
    ("items", {"items": []}),
    ("concluded_on", {"concluded_on": "2026-04-01"}),
    ("start_date", {"start_date": "2026-02-30"}),
    ("customer_id", {"customer_id": str(uuid.uuid4())}),
]


@pytest.mark.parametrize(("field", "change"), CONTRACT_CASES, ids=[c[0] for c in CONTRACT_CASES])
async def test_bad_contract_field_is_named_and_nothing_written(
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    field: str,
    change: dict[str, Any],
) -> None:
    customer = await create_customer(api)
    before = [
        await count_rows(session_factory, m) for m in (Contract, ContractVersion, WorkflowStart)
    ]
    body = {**contract_body(customer["id"]), **change}
    response = await api.post("/v1/contracts", json=body, headers=auth("crm"))
    locs = error_locs(response)
    assert any(".".join(map(str, loc[1:])).startswith(field) for loc in locs), locs
    after = [
        await count_rows(session_factory, m) for m in (Contract, ContractVersion, WorkflowStart)
    ]
    assert after == before
    # A failed request does not use up its CRM reference.
    retry = await api.post(
        "/v1/contracts",
        json=contract_body(customer["id"], crm_reference=body["crm_reference"]),
        headers=auth("crm"),
    )
    assert retry.status_code == 201, retry.text


async def test_idn_domain_is_stored_as_a_label(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    body = contract_body(
        customer["id"], items=[{"product_code": "domain-de", "domain": "Bücher-Müller.de"}]
    )
    response = await api.post("/v1/contracts", json=body, headers=auth("crm"))
    assert response.status_code == 201, response.text
    assert (
        response.json()["version"]["items"][0]["domain"] == "xn--bcher-mller-thbg.de"
    )  # stdlib punycode of bücher-müller


async def test_contract_is_created_and_its_workflow_activates_it(
    api: httpx.AsyncClient,
    worker: object,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    customer = await create_customer(api)
    response = await api.post(
        "/v1/contracts",
        json=contract_body(customer["id"], start_date="2026-01-31"),
        headers=auth("crm"),
    )
    assert response.status_code == 201, response.text
    contract = response.json()
    assert contract["workflow_id"] == f"contract-{contract['id']}"
    version = contract["version"]
    assert version["version"] == 1 and version["valid_from"] == "2026-01-31"
    assert version["minimum_term_end"] == "2027-01-31"  # domain-de: 12 months
    assert version["notice_period"] == "P1M"

    async def status() -> str:
        got = await api.get(f"/v1/contracts/{contract['id']}", headers=auth("support"))
        return got.json()["status"]

    assert await eventually(status, lambda s: s == "active") == "active"
    async with session_factory() as session:
        rows = (
            (
                await session.execute(
                    select(ProvisioningRequest).where(
                        ProvisioningRequest.contract_id == uuid.UUID(contract["id"])
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(r.action, r.parameters["items"][0]["domain"]) for r in rows] == [
        ("activate", "beispiel.de")
    ]
    description = await temporal_env.client.get_workflow_handle(contract["workflow_id"]).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING


async def test_twenty_concurrent_identical_posts_give_one_contract_and_one_workflow(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    customer = await create_customer(api)
    body = contract_body(customer["id"])
    responses = await asyncio.gather(
        *[api.post("/v1/contracts", json=body, headers=auth("crm")) for _ in range(20)]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    contract_id = responses[0].json()["id"]
    async with session_factory() as session:
        count = await session.execute(
            select(func.count())
            .select_from(Contract)
            .where(Contract.crm_reference == body["crm_reference"])
        )
        assert count.scalar_one() == 1
    query = f"WorkflowId = 'contract-{contract_id}'"
    runs = await eventually(
        lambda: temporal_env.client.count_workflows(query), lambda c: c.count >= 1
    )
    await asyncio.sleep(1)  # visibility is eventually consistent: give a second run time to show
    assert (await temporal_env.client.count_workflows(query)).count == runs.count == 1


async def test_same_reference_or_key_with_other_data_is_a_conflict(api: httpx.AsyncClient) -> None:
    customer = await create_customer(api)
    body = contract_body(customer["id"])
    key = {"Idempotency-Key": str(uuid.uuid4()), **auth("crm")}
    first = await api.post("/v1/contracts", json=body, headers=key)
    assert first.status_code == 201
    again = await api.post("/v1/contracts", json=body, headers=key)  # the same answer, replayed
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    without_key = await api.post("/v1/contracts", json=body, headers=auth("crm"))
    assert (without_key.status_code, without_key.json()["id"]) == (200, first.json()["id"])
    other = {**body, "start_date": "2026-03-16"}
    assert (await api.post("/v1/contracts", json=other, headers=auth("crm"))).status_code == 409
    another_contract = contract_body(customer["id"])
    assert (await api.post("/v1/contracts", json=another_contract, headers=key)).status_code == 409


async def test_history_and_as_of(
    api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    customer = await create_customer(api)
    created = (
        await api.post("/v1/contracts", json=contract_body(customer["id"]), headers=auth("crm"))
    ).json()
    first = created["version"]
    async with session_factory() as session, session.begin():
        session.add(
            ContractVersion(
                contract_id=uuid.UUID(created["id"]),
                version=2,
                valid_from=date(2026, 6, 15),
                items=[
                    {"product_code": "hosting-l-monthly", "quantity": 1, "domain": "beispiel.de"}
                ],
                minimum_term_end=date.fromisoformat(first["minimum_term_end"]),
                notice_period="P1M",
                renewal_period="P1M",
                reason="plan_change",
                recorded_by="test",
            )
        )
    path = f"/v1/contracts/{created['id']}"
    before = (await api.get(path, params={"as_of": "2026-06-14"}, headers=auth("support"))).json()
    after = (await api.get(path, params={"as_of": "2026-06-15"}, headers=auth("support"))).json()
    assert before["version"]["version"] == 1
    assert after["version"]["version"] == 2
    assert after["version"]["items"][0]["product_code"] == "hosting-l-monthly"
    history = (await api.get(f"{path}/history", headers=auth("crm"))).json()
    assert [v["version"] for v in history["versions"]] == [1, 2]
    before_start = (await api.get(path, params={"as_of": "2026-01-01"}, headers=auth("crm"))).json()
    assert before_start["version"] is None


async def test_history_rows_cannot_be_changed(
    api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    customer = await create_customer(api)
    created = (
        await api.post("/v1/contracts", json=contract_body(customer["id"]), headers=auth("crm"))
    ).json()
    for statement in (
        "UPDATE contract_version SET notice_period = 'P3M' WHERE contract_id = :id",
        "DELETE FROM contract_version WHERE contract_id = :id",
    ):
        async with session_factory() as session:
            with pytest.raises(Exception, match="history and are never changed"):
                await session.execute(text(statement), {"id": uuid.UUID(created["id"])})


async def _created_while_temporal_is_down(
    settings: Settings, api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> uuid.UUID:
    """A contract recorded by an API whose Temporal is unreachable: its outbox row waits."""
    customer = await create_customer(api)
    dead = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    down_app = create_app(settings, temporal_client=await connect(dead, lazy=True))
    async with down_app.router.lifespan_context(down_app):
        transport = httpx.ASGITransport(app=down_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://faktura") as client:
            response = await client.post(
                "/v1/contracts", json=contract_body(customer["id"]), headers=auth("crm")
            )
    assert response.status_code == 201, response.text
    contract_id = uuid.UUID(response.json()["id"])
    async with session_factory() as session:
        outbox = await session.get(WorkflowStart, f"contract-{contract_id}")
        assert outbox is not None and outbox.started_at is None
        assert outbox.attempts >= 1 and outbox.last_error
    return contract_id


@pytest.fixture
async def waiting_start(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> tuple[uuid.UUID, Any]:
    """A contract recorded while Temporal was down, and what the relay and the start after
    a create need of the API's state, now with Temporal up."""
    contract_id = await _created_while_temporal_is_down(settings, api, session_factory)
    state = relay_state(session_factory, temporal_env.client, settings)
    return contract_id, state


async def _runs(client: Client, contract_id: uuid.UUID) -> int:
    query = f"WorkflowId = 'contract-{contract_id}'"
    await eventually(lambda: client.count_workflows(query), lambda c: c.count >= 1)
    return (await client.count_workflows(query)).count


async def test_temporal_down_contract_kept_and_started_exactly_once_later(
    temporal_env: WorkflowEnvironment, waiting_start: tuple[uuid.UUID, Any]
) -> None:
    contract_id, state = waiting_start
    # The background relay leaves a row this young to the request that wrote it.
    assert await start_pending(state, contract_ids=[contract_id], older_than=LEFT_AFTER) == 0
    assert await start_pending(state, contract_ids=[contract_id]) == 1
    assert await start_pending(state, contract_ids=[contract_id]) == 0
    handle = temporal_env.client.get_workflow_handle(f"contract-{contract_id}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert await _runs(temporal_env.client, contract_id) == 1


async def test_a_start_that_fails_for_a_reason_of_its_own_does_not_hold_up_the_others(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure of the row's own (a bug, data this version cannot use) is noted and the
    relay goes on; the row comes after the others from then on. An outage stops the round:
    the rows behind it would meet it too."""
    first = await _created_while_temporal_is_down(settings, api, session_factory)
    second = await _created_while_temporal_is_down(settings, api, session_factory)
    state = relay_state(session_factory, temporal_env.client, settings)
    real_start = workflow_starts.start_contract_workflow
    tried: list[uuid.UUID] = []

    def failing(error: Exception, only: uuid.UUID | None = None) -> None:
        async def start(client: Client, task_queue: str, contract: Contract) -> None:
            tried.append(contract.id)
            if only in (None, contract.id):
                raise error
            await real_start(client, task_queue, contract)

        monkeypatch.setattr(workflow_starts, "start_contract_workflow", start)

    failing(ValueError("cannot read this contract"), only=first)
    assert await start_pending(state, contract_ids=[first, second]) == 1
    assert tried == [first, second]
    assert await _runs(temporal_env.client, second) == 1
    async with session_factory() as session:
        failed = await session.get(WorkflowStart, f"contract-{first}")
        assert failed is not None and failed.started_at is None
        assert failed.last_error == "ValueError: cannot read this contract"
        attempts = failed.attempts

    third = await _created_while_temporal_is_down(settings, api, session_factory)
    tried.clear()
    failing(RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""))
    assert await start_pending(state, contract_ids=[first, third]) == 0
    assert tried == [third]  # the row that failed before comes last; the outage stops there

    monkeypatch.setattr(workflow_starts, "start_contract_workflow", real_start)
    assert await start_pending(state, contract_ids=[first, third]) == 2
    assert await _runs(temporal_env.client, first) == 1
    async with session_factory() as session:
        started = await session.get(WorkflowStart, f"contract-{first}")
        assert started is not None and started.started_at is not None
        assert started.attempts == attempts + 1


async def test_start_after_create_leaves_a_row_the_relay_holds_to_it(
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    waiting_start: tuple[uuid.UUID, Any],
) -> None:
    """The request's own start neither waits for the relay's row lock nor doubles the run."""
    contract_id, state = waiting_start
    async with session_factory() as relay, relay.begin():
        held = await relay.execute(
            select(WorkflowStart).where(WorkflowStart.contract_id == contract_id).with_for_update()
        )
        assert held.scalar_one().started_at is None
        async with session_factory() as session:
            contract = await session.get(Contract, contract_id)
        assert contract is not None
        await asyncio.wait_for(start_created(state, contract), timeout=10)
    async with session_factory() as session:
        outbox = await session.get(WorkflowStart, f"contract-{contract_id}")
        assert outbox is not None and outbox.started_at is None  # the relay's to mark
    assert await start_pending(state, contract_ids=[contract_id]) == 1
    assert await _runs(temporal_env.client, contract_id) == 1


async def test_items_are_checked_in_order_and_the_first_fault_is_named(
    api: httpx.AsyncClient,
) -> None:
    customer = await create_customer(api)
    items = [
        {"product_code": "hosting-s-monthly", "domain": "beispiel.de"},
        {"product_code": "domain-de", "domain": "beispiel.de"},
        {"product_code": "domain-com", "domain": "beispiel.de"},
        {"product_code": "domain-de", "domain": "beispiel.org"},
    ]
    response = await api.post(
        "/v1/contracts", json=contract_body(customer["id"], items=items), headers=auth("crm")
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [
        {
            "loc": ["body", "items", 2, "domain"],
            "msg": ".de domains are billed by domain-de",
            "type": "value_error",
        }
    ]
    del items[2]
    response = await api.post(
        "/v1/contracts", json=contract_body(customer["id"], items=items), headers=auth("crm")
    )
    assert response.json()["detail"][0]["loc"] == ["body", "items", 2, "domain"]
    assert response.json()["detail"][0]["msg"] == "TLD .org is not orderable"
    del items[2]
    response = await api.post(
        "/v1/contracts", json=contract_body(customer["id"], items=items), headers=auth("crm")
    )
    assert response.status_code == 201, response.text
