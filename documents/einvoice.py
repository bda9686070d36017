"""EN 16931 e-invoice (UN/CEFACT CII) with drafthorse: Factur-X profile EN 16931, or XRechnung.

Every XML is checked against drafthorse's Factur-X schema before it leaves (the parsed
schema is kept: parsing it per invoice, as ``serialize(schema=...)`` does, cost ~2 % of a
worker's CPU); business rules are checked by the official schematron in the tests
(``../shared/tools/validate_einvoice.py``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

import drafthorse
from drafthorse.models import NS_QDT, NS_RAM, NS_RSM, NS_UDT
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem
from lxml import etree

from documents.model import InvoiceDoc, euros

EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
SEPA_DIRECT_DEBIT = "59"
SEPA_CREDIT_TRANSFER = "58"
UNIT_PIECE = "C62"


def _rate(category: str, rate: Decimal) -> Decimal | None:
    """Category O carries no rate at all (BR-O-05, BR-O-10)."""
    return None if category == "O" else rate.quantize(Decimal("0.01"))


def build_document(doc: InvoiceDoc, *, xrechnung: bool = False) -> Document:
    seller, buyer, payment = doc.seller, doc.buyer, doc.payment
    document = Document()
    document.context.guideline_parameter.id = XRECHNUNG if xrechnung else EN16931
    document.header.id = doc.number
    document.header.type_code = doc.type_code
    document.header.issue_date_time = doc.issue_date
    for text in doc.notes:
        note = IncludedNote()
        note.content = text
        document.header.notes.add(note)

    agreement = document.trade.agreement
    agreement.buyer_reference = buyer.get("buyer_reference") or buyer["customer_number"]
    s = agreement.seller
    s.name = seller["name"]
    s.address.line_one = f"{seller['street']} {seller['house_number']}"
    s.address.postcode = seller["postcode"]
    s.address.city_name = seller["city"]
    s.address.country_id = seller["country"]
    s.electronic_address.uri_ID = ("EM", seller["email"])
    s.contact.person_name = seller["name"]
    s.contact.telephone.number = seller["phone"]
    s.contact.email.address = seller["email"]
    # BT-30 identifies the seller also where its VAT ID must not appear (BR-CO-26, BR-O-02).
    s.legal_organization.id = seller["commercial_register"]
    if doc.tax_category != "O":  # BR-O-02: no seller VAT ID on a not-subject invoice
        s.tax_registrations.add(TaxRegistration(id=("VA", seller["vat_id"])))
    s.tax_registrations.add(TaxRegistration(id=("FC", seller["tax_number"])))

    b = agreement.buyer
    b.name = doc.buyer_display_name
    b.address.line_one = f"{buyer['street']} {buyer['house_number']}"
    b.address.postcode = buyer["postcode"]
    b.address.city_name = buyer["city"]
    b.address.country_id = buyer["country"]
    b.electronic_address.uri_ID = ("EM", buyer["email"])
    if buyer.get("vat_id") and doc.tax_category != "O":
        b.tax_registrations.add(TaxRegistration(id=("VA", buyer["vat_id"])))

    settlement = document.trade.settlement
    settlement.currency_code = doc.currency
    settlement.payment_reference = doc.number
    settlement.period.start = doc.service_start
    settlement.period.end = doc.last_service_day
    if doc.preceding_number:
        settlement.invoice_referenced_document.issuer_assigned_id = doc.preceding_number
        settlement.invoice_referenced_document.issue_date_time = doc.preceding_issue_date

    means = PaymentMeans()
    terms = PaymentTerms()
    if payment["method"] == "sepa_direct_debit" and not doc.is_credit_note:
        means.type_code = SEPA_DIRECT_DEBIT
        means.payer_account.iban = payment["iban"]
        settlement.creditor_reference_id = payment["creditor_id"]
        terms.debit_mandate_id = payment["mandate_reference"]
        terms.description = (
            f"SEPA-Lastschrift am {date.fromisoformat(payment['debit_date']):%d.%m.%Y}, "
            f"Mandat {payment['mandate_reference']}"
        )
    else:
        means.type_code = SEPA_CREDIT_TRANSFER
        means.payee_account.iban = seller["iban"]
        means.payee_institution.bic = seller["bic"]
        terms.description = f"Zahlbar bis {doc.due_date:%d.%m.%Y} ohne Abzug"
    terms.due = doc.due_date
    settlement.payment_means.add(means)
    settlement.terms.add(terms)

    for group in doc.tax_groups:
        tax = ApplicableTradeTax()
        tax.type_code = "VAT"
        tax.category_code = group.category
        rate = _rate(group.category, group.rate)
        if rate is not None:
            tax.rate_applicable_percent = rate
        tax.basis_amount = euros(group.basis_cents)
        tax.calculated_amount = euros(group.tax_cents)
        if group.category != "S":
            tax.exemption_reason = doc.tax_note or ""
            tax.exemption_reason_code = doc.exemption_code or ""
        settlement.trade_tax.add(tax)

    for line in doc.lines:
        item = LineItem()
        item.document.line_id = str(line.position)
        item.product.name = line.description
        sign = -1 if line.net_cents < 0 else 1
        quantity = Decimal(sign * line.quantity)
        # BR-27: the price is never negative; a credit line has a negative quantity.
        item.agreement.net.amount = (euros(abs(line.net_cents)) / line.quantity).quantize(
            Decimal("0.0001")
        )
        item.delivery.billed_quantity = (quantity, UNIT_PIECE)
        item.settlement.period.start = line.service_start
        item.settlement.period.end = line.last_day
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = line.category
        rate = _rate(line.category, line.rate)
        if rate is not None:
            item.settlement.trade_tax.rate_applicable_percent = rate
        item.settlement.monetary_summation.total_amount = euros(line.net_cents)
        document.trade.items.add(item)

    total = settlement.monetary_summation
    total.line_total = euros(doc.net_cents)
    total.charge_total = Decimal("0.00")
    total.allowance_total = Decimal("0.00")
    total.tax_basis_total = euros(doc.net_cents)
    total.tax_total = (euros(doc.tax_cents), doc.currency)
    total.grand_total = euros(doc.gross_cents)
    total.due_amount = euros(doc.gross_cents)
    return document


@cache
def _schema(name: str) -> etree.XMLSchema:
    """drafthorse's copy of the Factur-X XSD, parsed once per process."""
    return etree.XMLSchema(file=str(Path(drafthorse.__file__).parent / "schema" / f"{name}.xsd"))


# What drafthorse's Document declares on the root (Document.__init__ registers the prefixes).
DECLARED = {
    "rsm": NS_RSM,
    "qdt": NS_QDT,
    "ram": NS_RAM,
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "udt": NS_UDT,
}


def serialize(document: Document) -> bytes:
    """The bytes of drafthorse's ``Document.serialize`` in one pass. drafthorse serializes,
    parses its own output to declare the namespaces the invoice does not use, and
    serializes again: ~35 % of the XML's cost (py-spy on a worker, docs/PERFORMANCE.md)."""
    root = document.to_etree()
    used = {element.tag[1:].partition("}")[0] for element in root.iter()}
    for prefix, url in DECLARED.items():
        if url not in used:
            root.set(f"xmlns:{prefix}", url)
    ElementTree.indent(root)  # drafthorse pretty-prints (with lxml) in between
    return ElementTree.tostring(root, "utf-8", xml_declaration=True)


def render_xml(doc: InvoiceDoc, *, xrechnung: bool = False) -> bytes:
    """The CII XML; raises ``etree.DocumentInvalid`` if it does not match the schema."""
    schema = "Factur-X_1.0.07_EXTENDED" if xrechnung else "Factur-X_1.0.07_EN16931"
    xml = serialize(build_document(doc, xrechnung=xrechnung))
    _schema(schema).assertValid(etree.fromstring(xml))
    return xml
