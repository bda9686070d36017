"""Every state-changing route honours Idempotency-Key: the same key and body get the same
answer and change nothing more; the same key with another body is a 409. The table below
must name every mutating route of the OpenAPI document, so a new route cannot forget it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from api.idempotency import STALE_AFTER, digest
from cli import DEMO_CATALOG
from db.catalog import read_catalog_file
from db.models import BankLine, ContractVersion, IdempotentRequest, utcnow
from domain.berlin_time import berlin_today
from tests.camt_files import Entry, camt053
from tests.e2e.test_collection import import_file, issued, receivable
from tests.factories import consumer_body, contract_body, create_customer
from tests.helpers import auth, eventually

pytestmark = pytest.mark.usefixtures("catalog", "worker")

Factory = async_sessionmaker[AsyncSession]


@dataclass
class Call:
    path: str
    json: Any = None
    content: bytes | None = None

    def send(self, api: httpx.AsyncClient, key: str) -> Awaitable[httpx.Response]:
        headers = {**auth("admin"), "Idempotency-Key": key}
        if self.content is not None:
            headers["Content-Type"] = "application/xml"
            return api.post(self.path, content=self.content, headers=headers)
        return api.post(self.path, json=self.json, headers=headers)


async def _contract(api: httpx.AsyncClient) -> dict[str, Any]:
    customer = await create_customer(api, consumer_body())
    body = contract_body(customer["id"], start_date=berlin_today().isoformat(),
                         items=[{"product_code": "hosting-s-monthly", "domain": "key.de"}])  # fmt: skip
    contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()

    async def state() -> dict[str, Any]:
        return (await api.get(f"/v1/contracts/{contract['id']}/state", headers=auth("crm"))).json()

    await eventually(state, lambda s: s.get("status") == "active", 30)
    return contract


async def _invoice(api: httpx.AsyncClient, factory: Factory) -> dict[str, Any]:
    invoice = await issued(api, await create_customer(api, consumer_body()))
    await eventually(lambda: receivable(factory, invoice["number"]), lambda r: r is not None, 30)
    return invoice


def _statement(*entries: Entry) -> bytes:
    return camt053(f"S-{uuid.uuid4().hex[:8]}", list(entries))


async def _catalog(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    doc = read_catalog_file(DEMO_CATALOG).model_dump(mode="json")
    return Call("/v1/admin/catalog", doc), Call("/v1/admin/catalog", {**doc, "products": []})


async def _customers(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    return Call("/v1/customers", consumer_body()), Call("/v1/customers", consumer_body())


async def _customer_changes(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    path = f"/v1/customers/{(await create_customer(api, consumer_body()))['id']}/changes"
    return Call(path, {"email": "neu@example.org"}), Call(path, {"email": "anders@example.org"})


async def _contracts(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    customer = await create_customer(api, consumer_body())
    return (
        Call("/v1/contracts", contract_body(customer["id"])),
        Call("/v1/contracts", contract_body(customer["id"])),
    )


async def _changes(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    path = f"/v1/contracts/{(await _contract(api))['id']}/changes"
    return (
        Call(path, {"items": [{"product_code": "hosting-l-monthly", "domain": "key.de"}]}),
        Call(path, {"items": [{"product_code": "hosting-m-monthly", "domain": "key.de"}]}),
    )


async def _cancellation(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    path = f"/v1/contracts/{(await _contract(api))['id']}/cancellation"
    return Call(path, {"kind": "ordinary"}), Call(path, {"kind": "ordinary", "reason": "Umzug"})


async def _credit_notes(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    path = f"/v1/invoices/{(await _invoice(api, factory))['number']}/credit-notes"
    return Call(path, {"reason": "Kulanz"}), Call(path, {"reason": "Kulanz, zweite"})


async def _dispute(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    path = f"/v1/invoices/{(await _invoice(api, factory))['number']}/dispute"
    return (
        Call(path, {"disputed": True, "reason": "Leistung bestritten"}),
        Call(path, {"disputed": False, "reason": "geklärt"}),
    )


async def _statements(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    day = berlin_today()
    return (
        Call("/v1/bank-statements", content=_statement(Entry(1234, day, remittance="?"))),
        Call("/v1/bank-statements", content=_statement(Entry(4321, day, remittance="?"))),
    )


async def _assignment(api: httpx.AsyncClient, factory: Factory) -> tuple[Call, Call]:
    invoice = await _invoice(api, factory)
    marker = f"key-{uuid.uuid4().hex[:8]}"
    response = await import_file(api, _statement(Entry(500, berlin_today(), remittance=marker)))
    assert response.status_code == 200, response.text
    async with factory() as session:
        line_id = (
            await session.execute(select(BankLine.id).where(BankLine.remittance == marker))
        ).scalar_one()
    path = f"/v1/bank-lines/{line_id}/assignment"
    body = {"invoice_number": invoice["number"], "reason": "Kunde rief an"}
    return Call(path, body), Call(path, {**body, "reason": "anderer Grund"})


CASES: dict[str, Callable[[httpx.AsyncClient, Factory], Awaitable[tuple[Call, Call]]]] = {
    "POST /v1/admin/catalog": _catalog,
    "POST /v1/customers": _customers,
    "POST /v1/customers/{customer_id}/changes": _customer_changes,
    "POST /v1/contracts": _contracts,
    "POST /v1/contracts/{contract_id}/changes": _changes,
    "POST /v1/contracts/{contract_id}/cancellation": _cancellation,
    "POST /v1/invoices/{number}/credit-notes": _credit_notes,
    "POST /v1/invoices/{number}/dispute": _dispute,
    "POST /v1/bank-statements": _statements,
    "POST /v1/bank-lines/{line_id}/assignment": _assignment,
}


async def test_the_table_names_every_state_changing_route(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    mutating = {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method in operations
        if method in {"post", "put", "patch", "delete"}
    }
    assert mutating == set(CASES)


async def row_counts(factory: Factory) -> dict[str, int]:
    async with factory() as session:
        return {
            table.name: (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


async def settled_counts(factory: Factory) -> dict[str, int]:
    """Row counts once the workflows started by the first request have done their steps."""
    last = await row_counts(factory)
    for _ in range(60):
        await asyncio.sleep(0.5)
        now = await row_counts(factory)
        if now == last:
            return now
        last = now
    raise AssertionError("the database did not settle")


@pytest.mark.parametrize("route", sorted(CASES))
async def test_same_key_same_answer_no_second_effect_other_body_409(
    route: str, api: httpx.AsyncClient, session_factory: Factory
) -> None:
    call, other = await CASES[route](api, session_factory)
    key = f"k-{uuid.uuid4()}"
    first = await call.send(api, key)
    assert 200 <= first.status_code < 300, first.text
    before = await settled_counts(session_factory)
    again = await call.send(api, key)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert await settled_counts(session_factory) == before
    conflict = await other.send(api, key)
    assert conflict.status_code == 409 and "another body" in conflict.text


async def test_a_change_repeated_after_the_answer_was_lost_is_applied_once(
    api: httpx.AsyncClient, session_factory: Factory
) -> None:
    """The key is also the workflow update's id: even if the stored answer is gone (a crash
    between the update and storing it), the repeat gets the first outcome, no new version."""
    call, _ = await _changes(api, session_factory)
    key = f"k-{uuid.uuid4()}"
    first = await call.send(api, key)
    assert first.status_code == 200, first.text
    async with session_factory() as session, session.begin():
        await session.execute(delete(IdempotentRequest).where(IdempotentRequest.key == key))
    again = await call.send(api, key)
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert again.json() == first.json()
    contract_id = call.path.split("/")[3]
    async with session_factory() as session:
        versions = (
            await session.execute(
                select(func.count()).where(ContractVersion.contract_id == uuid.UUID(contract_id))
            )
        ).scalar_one()
    assert versions == 2  # created + one change


async def test_a_key_is_bounded_and_a_failed_request_frees_it(api: httpx.AsyncClient) -> None:
    too_long = await api.post(
        "/v1/customers", json=consumer_body(), headers={**auth("crm"), "Idempotency-Key": "x" * 201}
    )
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.text
    key = f"k-{uuid.uuid4()}"
    bad = await api.post(
        "/v1/customers", json={**consumer_body(), "iban": "DE00"},
        headers={**auth("crm"), "Idempotency-Key": key},
    )  # fmt: skip
    assert bad.status_code == 422
    fixed = await api.post(
        "/v1/customers", json=consumer_body(), headers={**auth("crm"), "Idempotency-Key": key}
    )
    assert fixed.status_code == 201, fixed.text  # the refused body did not keep the key


async def test_a_running_request_is_409_and_a_dead_ones_claim_is_taken_over(
    api: httpx.AsyncClient, session_factory: Factory
) -> None:
    """A claim left 'pending' by a request that died with its process blocks the key only
    for STALE_AFTER; then the repeat runs (the route itself is idempotent underneath)."""
    key = f"k-{uuid.uuid4()}"
    content = json.dumps(consumer_body()).encode()
    headers = {**auth("crm"), "Idempotency-Key": key, "Content-Type": "application/json"}
    scope = digest(headers["Authorization"].encode(), b"POST", b"/v1/customers")
    async with session_factory() as session, session.begin():
        session.add(IdempotentRequest(
            scope=scope, key=key, fingerprint=digest(b"application/json", content),
        ))  # fmt: skip
    running = await api.post("/v1/customers", content=content, headers=headers)
    assert running.status_code == 409 and "still being processed" in running.text
    # when the claim is taken over at the latest: the CRM knows when to try again
    assert 0 < int(running.headers["Retry-After"]) <= STALE_AFTER.total_seconds()
    async with session_factory() as session, session.begin():
        row = await session.get(IdempotentRequest, (scope, key))
        assert row is not None and row.state == "pending"
        row.created_at = utcnow() - STALE_AFTER - timedelta(seconds=1)
    taken_over = await api.post("/v1/customers", content=content, headers=headers)
    assert taken_over.status_code == 201, taken_over.text
    async with session_factory() as session:
        row = await session.get(IdempotentRequest, (scope, key))
        assert row is not None and (row.state, row.status_code) == ("done", 201)
