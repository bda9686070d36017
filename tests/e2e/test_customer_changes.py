"""Changing a customer: contact data, address, VAT ID, channel and payment method (a new
SEPA mandate, or transfer). The next invoice uses the new data, issued ones keep theirs;
every change is recorded; bad input is 422 naming the field and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import CustomerFlag, SepaMandate
from tests.e2e.test_collection import debit_of, issued
from tests.factories import business_body, create_customer, transfer_consumer_body
from tests.helpers import auth, eventually

pytestmark = pytest.mark.usefixtures("catalog")
Factory = async_sessionmaker[AsyncSession]

NEW_ADDRESS = {
    "street": "Am Markt",
    "house_number": "12a",
    "postcode": "04109",
    "city": "Leipzig",
    "country": "DE",
}


def change(
    api: httpx.AsyncClient, customer: dict[str, Any], body: dict[str, Any], role: str = "crm"
):  # type: ignore[no-untyped-def]
    return api.post(f"/v1/customers/{customer['id']}/changes", json=body, headers=auth(role))


async def changes_of(api: httpx.AsyncClient, customer: dict[str, Any]) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/customers/{customer['id']}/changes", headers=auth("support"))
    assert response.status_code == 200, response.text
    return response.json()


async def mandate(factory: Factory, reference: str) -> SepaMandate | None:
    async with factory() as session:
        return await session.get(SepaMandate, reference)


async def test_support_fixes_address_and_email_and_the_bounce_flag_goes(
    api: httpx.AsyncClient, session_factory: Factory
) -> None:
    customer = await create_customer(api)
    async with session_factory() as session, session.begin():
        session.add(
            CustomerFlag(
                customer_id=uuid.UUID(customer["id"]), flag="email_bounced", detail="550 no user"
            )
        )
    body = {"email": "erika.neu@example.org", "address": NEW_ADDRESS, "language": "en"}
    changed = await change(api, customer, body, role="support")
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["email"], got["address"], got["language"]) == (
        "erika.neu@example.org", NEW_ADDRESS, "en",
    )  # fmt: skip
    assert got["name"] == customer["name"] and got["sepa_mandate"] == customer["sepa_mandate"]
    read = await api.get(f"/v1/customers/{customer['id']}", headers=auth("crm"))
    assert read.json() == got
    [record] = await changes_of(api, customer)
    moved = {k: v for k, v in NEW_ADDRESS.items() if k != "country"}  # DE before, DE now
    assert record["changes"] == {"email": "erika.neu@example.org", "language": "en", **moved}
    assert record["recorded_by"].startswith("support:")
    flagged = await api.get("/v1/customers?flag=email_bounced", headers=auth("support"))
    assert customer["id"] not in {f["customer"]["id"] for f in flagged.json()}
    # the same change again sets what is stored: nothing to record
    again = await change(api, customer, body, role="support")
    assert (again.status_code, again.json()) == (200, got)
    assert len(await changes_of(api, customer)) == 1


async def test_the_next_invoice_uses_the_new_data_and_issued_ones_keep_theirs(
    api: httpx.AsyncClient, worker: object
) -> None:
    customer = await create_customer(api, transfer_consumer_body())
    first = await issued(api, customer)
    assert first["buyer"]["city"] == "Köln"
    changed = await change(api, customer, {"address": NEW_ADDRESS, "name": "Erika Neumann"})
    assert changed.status_code == 200, changed.text
    second = await issued(api, customer)
    assert (second["buyer"]["city"], second["buyer"]["name"]) == ("Leipzig", "Erika Neumann")
    kept = await api.get(f"/v1/invoices/{first['number']}", headers=auth("finance"))
    assert (kept.json()["buyer"]["city"], kept.json()["buyer"]["name"]) == (
        "Köln", "Erika Musterfrau",
    )  # fmt: skip


async def test_a_new_mandate_after_transfer_is_debited_and_the_old_one_ended(
    api: httpx.AsyncClient, worker: object, session_factory: Factory
) -> None:
    """After a return debit the customer pays by transfer until a new mandate arrives:
    recorded here, the next invoice is debited from the new account."""
    customer = await create_customer(api)
    old = customer["sepa_mandate"]["mandate_reference"]
    moved = await change(api, customer, {"payment_method": "bank_transfer"})
    assert moved.status_code == 200, moved.text
    assert (await mandate(session_factory, old)).status == "revoked"  # type: ignore[union-attr]
    new_mandate = {
        "iban": "DE02120300000000202051", "mandate_reference": f"NEU-{uuid.uuid4().hex[:8]}",
        "signed_on": "2026-11-20",
    }  # fmt: skip
    back = await change(
        api, customer, {"payment_method": "sepa_direct_debit", "sepa_mandate": new_mandate}
    )
    assert back.status_code == 200, back.text
    assert back.json()["payment_method"] == "sepa_direct_debit"
    assert back.json()["sepa_mandate"]["mandate_reference"] == new_mandate["mandate_reference"]
    stored = await mandate(session_factory, new_mandate["mandate_reference"])
    assert stored is not None and (stored.status, stored.iban, stored.bic) == (
        "active", "DE02120300000000202051", "BYLADEM1001",  # the BIC from the IBAN's bank code
    )  # fmt: skip
    invoice = await issued(api, customer)
    debit = await eventually(
        lambda: debit_of(session_factory, invoice["number"]), lambda d: d is not None, 30
    )
    assert debit is not None
    assert (debit.mandate_reference, debit.iban) == (
        new_mandate["mandate_reference"], "DE02120300000000202051",
    )  # fmt: skip
    records = await changes_of(api, customer)
    assert records[0]["changes"]["iban"] == "DE02 **** **** 2051"  # masked in the record
    assert [sorted(r["changes"]) for r in records] == [
        ["bic", "iban", "mandate_reference", "mandate_signed_on", "payment_method"],
        ["payment_method"],
    ]


@pytest.mark.parametrize(
    ("who", "body", "field", "reason"),
    [
        ("consumer", {"vat_id": "DE136695976"}, "vat_id", "only business customers"),
        ("business", {"company": None}, "company", "needs a company name"),
        ("consumer", {"name": None}, "name", "not null"),
        ("consumer", {"email": "kein-at-zeichen"}, "email", "email"),
        ("consumer", {"kind": "business"}, "kind", "Extra inputs"),
        ("consumer", {"crm_reference": "C-neu"}, "crm_reference", "Extra inputs"),
        ("consumer", {"payment_method": "sepa_direct_debit"}, "sepa_mandate", "needs a mandate"),
        ("consumer", {"address": {**NEW_ADDRESS, "postcode": "123"}}, "postcode", "five digits"),
        ("business", {"vat_id": "DE123"}, "vat_id", "invalid VAT ID"),
    ],
)
async def test_bad_changes_are_422_naming_the_field_and_change_nothing(
    api: httpx.AsyncClient, who: str, body: dict[str, Any], field: str, reason: str
) -> None:
    customer = await create_customer(api, business_body() if who == "business" else None)
    refused = await change(api, customer, body)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["loc"][-1] == field and reason in error["msg"], error
    read = await api.get(f"/v1/customers/{customer['id']}", headers=auth("crm"))
    assert read.json() == customer
    assert await changes_of(api, customer) == []


async def test_a_mandate_reference_is_one_customers_and_one_accounts(
    api: httpx.AsyncClient, session_factory: Factory
) -> None:
    other = await create_customer(api)
    customer = await create_customer(api)
    taken = {**other["sepa_mandate"], "iban": "DE02120300000000202051"}
    own = {**customer["sepa_mandate"], "iban": "DE02120300000000202051"}
    for mandate_body, reason in (
        (taken, "in use already"),
        (own, "needs a new mandate reference"),
    ):
        body = {"payment_method": "sepa_direct_debit", "sepa_mandate": mandate_body}
        refused = await change(api, customer, body)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "sepa_mandate", "mandate_reference"], error
        assert reason in error["msg"]
    read = await api.get(f"/v1/customers/{customer['id']}", headers=auth("crm"))
    assert read.json() == customer
    async with session_factory() as session:
        owners = await session.scalars(
            select(SepaMandate.customer_id).where(
                SepaMandate.reference == other["sepa_mandate"]["mandate_reference"]
            )
        )
        assert list(owners) == []  # the refused insert was rolled back with the rest


async def test_an_unknown_customer_is_404(api: httpx.AsyncClient) -> None:
    missing = {"id": str(uuid.uuid4())}
    assert (await change(api, missing, {"name": "Niemand"})).status_code == 404
