"""Invoices end to end: contract in -> invoice with exact VAT -> PDF/A-3 + EN 16931 XML that
pass the official rules. Totals are computed by hand in this file."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from config import PROJECT_ROOT
from db.models import Invoice
from domain.berlin_time import berlin_date, berlin_today
from tests.factories import business_body, consumer_body, contract_body, create_customer
from tests.helpers import auth, eventually, record_history

pytestmark = pytest.mark.usefixtures("catalog", "worker")

VALIDATOR = PROJECT_ROOT.parent / "shared" / "tools" / "validate_einvoice.py"
FIRST = berlin_today().replace(day=1)  # a contract from the 1st is billed at once
HOSTING = [{"product_code": "hosting-m-monthly", "domain": "rechnung.de"}]


def validate(path: Path, *, xrechnung: bool = False) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(VALIDATOR), *(["--xrechnung"] if xrechnung else []), str(path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def address(country: str, postcode: str, city: str) -> dict[str, str]:
    return {"street": "Teststraße", "house_number": "1", "postcode": postcode, "city": city,
            "country": country}  # fmt: skip


async def first_invoice(api: httpx.AsyncClient, customer: dict[str, Any]) -> dict[str, Any]:
    body = contract_body(customer["id"], start_date=FIRST.isoformat(), items=HOSTING)
    contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()
    path = f"/v1/contracts/{contract['id']}/invoices"

    async def page() -> dict[str, Any]:
        return (await api.get(path, headers=auth("finance"))).json()

    listed = await eventually(page, lambda p: p.get("total", 0) >= 1, 30)
    number = listed["items"][0]["number"]

    async def detail() -> dict[str, Any]:
        return (await api.get(f"/v1/invoices/{number}", headers=auth("support"))).json()

    return await eventually(detail, lambda d: len(d.get("documents", [])) >= 2, 30)


# hosting M: consumer list 9.99 gross + 9.99 setup; business list 8.39 net + 8.39 setup
CASES = {
    # German consumer, gross: 19.98 paid exactly; VAT = round(19.98*19/119) = 3.19
    "de-consumer": (consumer_body(), (1679, 319, 1998), "S"),
    # German business, net: 16.78 net, VAT round(3.1882) = 3.19
    "de-business": (business_body(), (1678, 319, 1997), "S"),
    # Austrian business with VAT ID: reverse charge, no VAT
    "at-business": (
        business_body(vat_id="ATU13585627", address=address("AT", "1010", "Wien")),
        (1678, 0, 1678), "AE",
    ),
    # French consumer under OSS: 19.98 gross with 20 % inside: VAT round(3.33) = 3.33
    "fr-consumer": (
        consumer_body(payment_method="bank_transfer", sepa_mandate=None,
                      address=address("FR", "75001", "Paris")),
        (1665, 333, 1998), "S",
    ),
    # Swiss consumer: not taxable in Germany; price without German VAT 9.99/1.19 = 8.39 twice
    "ch-consumer": (
        consumer_body(payment_method="bank_transfer", sepa_mandate=None,
                      address=address("CH", "8001", "Zürich")),
        (1678, 0, 1678), "O",
    ),
    # public-sector buyer with a Leitweg-ID: net prices, XRechnung as well
    "de-public": (business_body(buyer_reference="04011000-1234512345-06"), (1678, 319, 1997), "S"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
async def test_tax_matrix_and_valid_e_invoices(
    api: httpx.AsyncClient, case: str, settings: Any
) -> None:
    body, (net, tax, gross), category = CASES[case]
    if body.get("sepa_mandate") is None:
        body.pop("sepa_mandate", None)
    customer = await create_customer(api, body)
    invoice = await first_invoice(api, customer)
    assert (invoice["net_cents"], invoice["tax_cents"], invoice["gross_cents"]) == (net, tax, gross)
    assert invoice["tax_category"] == category
    assert invoice["number"].startswith(f"RE-{berlin_today().year}-")
    assert sum(line["net_cents"] for line in invoice["lines"]) == net
    assert invoice["service_start"] == FIRST.isoformat()

    pdf = await api.get(f"/v1/invoices/{invoice['number']}.pdf", headers=auth("finance"))
    xml = await api.get(f"/v1/invoices/{invoice['number']}.xml", headers=auth("finance"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert xml.status_code == 200
    folder = settings.archive_dir / "check" / invoice["number"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "invoice.pdf").write_bytes(pdf.content)
    (folder / "invoice.xml").write_bytes(xml.content)
    result = validate(folder / "invoice.pdf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert validate(folder / "invoice.xml").returncode == 0
    if case == "de-public":
        xr = await api.get(
            f"/v1/invoices/{invoice['number']}.xml",
            params={"xrechnung": True},
            headers=auth("finance"),
        )
        (folder / "xrechnung.xml").write_bytes(xr.content)
        checked = validate(folder / "xrechnung.xml", xrechnung=True)
        assert checked.returncode == 0, checked.stdout
        assert b"04011000-1234512345-06" in xr.content
    by_kind = {d["kind"]: d["sha256"] for d in invoice["documents"]}
    assert by_kind["pdf"] == hashlib.sha256(pdf.content).hexdigest()


async def test_the_validator_rejects_a_tampered_total(
    api: httpx.AsyncClient, settings: Any
) -> None:
    invoice = await first_invoice(api, await create_customer(api))
    xml = (await api.get(f"/v1/invoices/{invoice['number']}.xml", headers=auth("finance"))).content
    tampered = xml.replace(
        b'<ram:TaxTotalAmount currencyID="EUR">3.19<', b'<ram:TaxTotalAmount currencyID="EUR">3.29<'
    )
    assert tampered != xml
    path = settings.archive_dir / "check" / f"{invoice['number']}-tampered.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tampered)
    result = validate(path)
    assert result.returncode == 1
    assert "BR-CO-15" in result.stdout


async def test_credit_notes(
    api: httpx.AsyncClient, temporal_env: WorkflowEnvironment, settings: Any
) -> None:
    invoice = await first_invoice(api, await create_customer(api))
    number = invoice["number"]
    path = f"/v1/invoices/{number}/credit-notes"
    before = berlin_date(datetime.now(UTC))
    partial = await api.post(
        path,
        json={"reason": "Kulanz", "lines": [{"position": 2, "net_cents": 300}]},
        headers=auth("finance"),
    )
    assert partial.status_code == 201, partial.text
    credit = partial.json()
    # dated by the German calendar, as invoices are (from 00:00 to 01:00 German winter
    # time the machine's UTC date is still the day before)
    german_days = {before.isoformat(), berlin_date(datetime.now(UTC)).isoformat()}
    assert credit["issue_date"] in german_days
    # 3.00 net at 19 %: VAT 0.57
    assert (
        credit["type_code"],
        credit["net_cents"],
        credit["tax_cents"],
        credit["gross_cents"],
    ) == ("381", 300, 57, 357)
    assert (credit["preceding_number"], credit["preceding_issue_date"]) == (
        number,
        invoice["issue_date"],
    )
    assert credit["number"].startswith(f"GS-{berlin_today().year}-")
    repeat = await api.post(
        path,
        json={"reason": "Kulanz", "lines": [{"position": 2, "net_cents": 300}]},
        headers=auth("finance"),
    )
    assert (repeat.status_code, repeat.json()["number"]) == (200, credit["number"])
    too_much = await api.post(path, json={"reason": "Storno"}, headers=auth("finance"))
    assert too_much.status_code == 409  # a full credit on top of the partial one

    other = await first_invoice(api, await create_customer(api))
    full = await api.post(
        f"/v1/invoices/{other['number']}/credit-notes",
        json={"reason": "Storno"},
        headers=auth("finance"),
    )
    assert full.status_code == 201, full.text
    assert full.json()["gross_cents"] == other["gross_cents"]  # nets to zero
    assert full.json()["tax_cents"] == other["tax_cents"]
    of_credit = await api.post(
        f"/v1/invoices/{full.json()['number']}/credit-notes",
        json={"reason": "x" * 5},
        headers=auth("finance"),
    )
    assert of_credit.status_code == 409
    bad_line = await api.post(
        f"/v1/invoices/{number}/credit-notes",
        json={"reason": "Kulanz", "lines": [{"position": 9, "net_cents": 1}]},
        headers=auth("finance"),
    )
    assert bad_line.status_code == 422 and "no line 9" in bad_line.text

    async def documents() -> list[Any]:
        response = await api.get(f"/v1/invoices/{credit['number']}", headers=auth("finance"))
        return response.json()["documents"]

    assert len(await eventually(documents, lambda d: len(d) >= 2, 30)) >= 2
    pdf = await api.get(f"/v1/invoices/{credit['number']}.pdf", headers=auth("finance"))
    path_pdf = settings.archive_dir / "check" / f"{credit['number']}.pdf"
    path_pdf.parent.mkdir(parents=True, exist_ok=True)
    path_pdf.write_bytes(pdf.content)
    result = validate(path_pdf)
    assert result.returncode == 0, result.stdout
    await record_history(temporal_env.client, f"invoice-{credit['number']}", "invoice")


IMMUTABLE = [
    "UPDATE invoice SET gross_cents = gross_cents + 1 WHERE id = :id",
    "DELETE FROM invoice WHERE id = :id",
    "UPDATE invoice_line SET net_cents = 0 WHERE invoice_id = :id",
    "DELETE FROM invoice_line WHERE invoice_id = :id",
    "UPDATE invoice_document SET sha256 = 'x' WHERE invoice_id = :id",
    "DELETE FROM invoice_document WHERE invoice_id = :id",
]


async def test_an_issued_invoice_cannot_be_changed(
    api: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await first_invoice(api, await create_customer(api))
    async with session_factory() as session:
        invoice_id = (
            await session.execute(select(Invoice.id).where(Invoice.number == invoice["number"]))
        ).scalar_one()
    for statement in IMMUTABLE:
        async with session_factory() as session:
            with pytest.raises(DBAPIError, match="history and are never changed"):
                await session.execute(text(statement), {"id": invoice_id})
