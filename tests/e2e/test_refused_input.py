"""What fuzzing found (tests/e2e/test_fuzz.py), pinned down: values only the database could
refuse, and numbers beyond its integer range, are a 422 with a reason, never a 500; and a
repeated credit-note request does not start a second run of the note's workflow."""

from __future__ import annotations

import uuid

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from cli import DEMO_CATALOG
from db.catalog import read_catalog_file
from tests.e2e.test_collection import issued
from tests.factories import consumer_body, create_customer
from tests.helpers import auth, eventually

pytestmark = pytest.mark.usefixtures("catalog", "worker")


async def test_a_value_too_long_for_its_column_is_422_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    doc = read_catalog_file(DEMO_CATALOG).model_dump(mode="json")
    code = f"pl-{uuid.uuid4().hex[:6]}"
    doc["price_lists"] = [{"code": code, "name": "Zu lang", "currency": "EURO",
                           "prices_include_vat": True}]  # fmt: skip
    doc["products"], doc["tlds"] = [], {}
    refused = await api.post("/v1/admin/catalog", json=doc, headers=auth("admin"))
    assert refused.status_code == 422, refused.text
    assert "value was refused" in refused.text and "character varying(3)" in refused.text
    catalog = (await api.get("/v1/catalog", headers=auth("crm"))).text
    assert code not in catalog


async def test_a_nul_character_is_422(api: httpx.AsyncClient) -> None:
    refused = await api.post(
        "/v1/customers", json=consumer_body(name="Erika\u0000"), headers=auth("crm")
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "path",
    ["/v1/invoices?offset=320093678811093954761588736", "/v1/invoices?offset=1000000001"],
)
async def test_an_offset_beyond_range_is_422(api: httpx.AsyncClient, path: str) -> None:
    refused = await api.get(path, headers=auth("finance"))
    assert refused.status_code == 422 and "offset" in refused.text


async def test_a_bank_line_id_beyond_range_is_422(api: httpx.AsyncClient) -> None:
    refused = await api.post(
        "/v1/bank-lines/21749417612/assignment",
        json={"invoice_number": "RE-2026-0000001", "reason": "Test"}, headers=auth("finance"),
    )  # fmt: skip
    assert refused.status_code == 422 and "line_id" in refused.text


async def test_a_repeated_credit_note_keeps_one_workflow_run(
    api: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    invoice = await issued(api, await create_customer(api, consumer_body()))
    path = f"/v1/invoices/{invoice['number']}/credit-notes"
    note = await api.post(path, json={"reason": "Storno"}, headers=auth("finance"))
    assert note.status_code == 201, note.text
    handle = temporal_env.client.get_workflow_handle(f"invoice-{note.json()['number']}")

    async def status() -> WorkflowExecutionStatus | None:
        return (await handle.describe()).status

    await eventually(status, lambda s: s == WorkflowExecutionStatus.COMPLETED, 30)
    again = await api.post(path, json={"reason": "Storno"}, headers=auth("finance"))
    assert (again.status_code, again.json()["number"]) == (200, note.json()["number"])
    runs = temporal_env.client.list_workflows(f"WorkflowId = '{handle.id}'")
    assert len([run async for run in runs]) == 1
