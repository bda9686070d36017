"""Request bodies for API tests; each call gives fresh CRM references."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from domain.berlin_time import berlin_today
from tests.helpers import auth, eventually


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def consumer_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "crm_reference": unique("C"),
        "kind": "consumer",
        "name": "Erika Musterfrau",
        "address": {
            "street": "Lindenweg",
            "house_number": "3",
            "postcode": "50667",
            "city": "Köln",
            "country": "DE",
        },
        "email": "erika@example.org",
        "payment_method": "sepa_direct_debit",
        "sepa_mandate": {
            "iban": "DE89 3704 0044 0532 0130 00",
            "mandate_reference": unique("M"),
            "signed_on": "2025-05-01",
        },
    }
    body.update(overrides)
    return body


def transfer_consumer_body(**overrides: Any) -> dict[str, Any]:
    """A consumer who pays by bank transfer (no mandate)."""
    body = consumer_body(payment_method="bank_transfer", **overrides)
    body.pop("sepa_mandate")
    return body


def business_body(**overrides: Any) -> dict[str, Any]:
    body = consumer_body(
        kind="business",
        company="Beispiel GmbH",
        vat_id="DE136695976",
        payment_method="bank_transfer",
        sepa_mandate=None,
    )
    body.pop("sepa_mandate")
    body.update(overrides)
    return body


async def create_customer(
    api: httpx.AsyncClient, body: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """Create a customer from ``body`` (default: a consumer with ``overrides``)."""
    body = body or consumer_body(**overrides)
    response = await api.post("/v1/customers", json=body, headers=auth("crm"))
    assert response.status_code == 201, response.text
    return response.json()


def contract_body(customer_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "crm_reference": unique("K"),
        "customer_id": customer_id,
        "start_date": "2026-03-15",
        "items": [
            {"product_code": "hosting-m-monthly", "domain": "beispiel.de"},
            {"product_code": "domain-de", "domain": "beispiel.de"},
        ],
    }
    body.update(overrides)
    return body


async def issued(
    api: httpx.AsyncClient,
    customer: dict[str, Any],
    items: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A contract from the first of this month, and its first invoice once issued."""
    start = berlin_today().replace(day=1)
    items = items or [{"product_code": "hosting-m-monthly", "domain": "inkasso.de"}]
    body = contract_body(customer["id"], start_date=start.isoformat(), items=items)
    contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()

    async def page() -> dict[str, Any]:
        return (
            await api.get(f"/v1/contracts/{contract['id']}/invoices", headers=auth("finance"))
        ).json()

    listed = await eventually(page, lambda p: p.get("total", 0) >= 1, 30)
    invoice = (
        await api.get(f"/v1/invoices/{listed['items'][0]['number']}", headers=auth("finance"))
    ).json()
    return {**invoice, "contract": contract}
