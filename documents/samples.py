"""A realistic sample invoice, for the rendering benchmark and for looking at the layout."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from config import Seller
from documents.model import DocLine, DocTaxGroup, InvoiceDoc


def sample_invoice(number: str = "RE-2026-0000001") -> InvoiceDoc:
    """A German consumer's monthly hosting invoice with five lines, paid by SEPA debit."""
    start, month, year = date(2026, 11, 1), date(2026, 12, 1), date(2027, 11, 1)
    rate = Decimal(19)
    lines = (
        DocLine(1, "Webhosting M (mustermann.de)", 1, 840, "S", rate, start, month),
        DocLine(2, "Einrichtung Webhosting M", 1, 839, "S", rate, start, start),
        DocLine(3, "Domain .de (mustermann.de)", 1, 998, "S", rate, start, year),
        DocLine(4, "Zusätzliches Postfach", 3, 249, "S", rate, start, month),
        DocLine(5, "SSL-Zertifikat (mustermann.de)", 1, 5032, "S", rate, start, year),
    )
    net = sum(line.net_cents for line in lines)  # 7958
    tax = 1512  # 79.58 * 0.19 = 15.1202
    return InvoiceDoc(
        number=number,
        type_code="380",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 11, 6),
        service_start=date(2026, 11, 1),
        service_end=date(2027, 11, 1),
        currency="EUR",
        net_cents=net,
        tax_cents=tax,
        gross_cents=net + tax,
        tax_category="S",
        oss=False,
        tax_note=None,
        exemption_code=None,
        prices_include_vat=True,
        seller=Seller().model_dump(),
        buyer={
            "customer_id": "00000000-0000-0000-0000-000000000001",
            "customer_number": "K-100042",
            "kind": "consumer",
            "name": "Max Mustermann",
            "company": None,
            "street": "Hauptstraße",
            "house_number": "5",
            "postcode": "10115",
            "city": "Berlin",
            "country": "DE",
            "email": "max@example.org",
            "language": "de",
            "vat_id": None,
            "buyer_reference": None,
        },
        payment={
            "method": "sepa_direct_debit",
            "iban": "DE02120300000000202051",
            "bic": "BYLADEM1001",
            "mandate_reference": "DEMO-MANDATE-001",
            "creditor_id": "DE98ZZZ09999999999",
            "debit_date": "2026-11-06",
        },
        lines=lines,
        tax_groups=(DocTaxGroup("S", Decimal(19), net, tax),),
    )
