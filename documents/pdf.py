"""The invoice PDF: jinja2 renders Typst markup, Typst compiles PDF/A-3b, factur-x embeds the XML.

Typst was chosen by measurement (``bench/render_invoices.py``): one compiler per process,
reused, renders a one-page invoice in well under 50 ms on one core.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import typst
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from documents.facturx_embed import embed_xml
from documents.model import InvoiceDoc, euros
from documents.texts import Texts, texts

TEMPLATES = Path(__file__).parent / "templates"


def typst_string(value: Any) -> str:
    """A Typst string literal for code positions: data can never become code or markup."""
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def typst_text(value: Any) -> str:
    """A string literal embedded in markup (``#"..."``)."""
    return "#" + typst_string(value)


@lru_cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,  # Typst, not HTML: every value goes through the `s` filter
        keep_trailing_newline=True,
    )
    env.filters["s"] = typst_string
    env.filters["m"] = typst_text
    return env


_local = threading.local()


def _compiler() -> typst.Compiler:
    """One Typst compiler per thread: reusing it keeps fonts loaded (the expensive part)."""
    if not hasattr(_local, "compiler"):
        _local.compiler = typst.Compiler(ignore_system_fonts=True)
    return _local.compiler


@lru_cache
def _locale(code: str) -> Locale:
    """Parsed once: babel parses a locale string anew on every call (~40 % of a format)."""
    return Locale.parse(code)


def _money(cents: int, locale: str) -> str:
    return format_currency(euros(cents), "EUR", locale=_locale(locale))


def _day(day: date, locale: str) -> str:
    return format_date(
        day, "dd.MM.yyyy" if locale.startswith("de") else "d MMM yyyy", locale=_locale(locale)
    )


def masked_iban(iban: str) -> str:
    return f"{iban[:4]} **** **** {iban[-4:]}"


def _grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _rate(rate: Decimal, locale: str) -> str:
    return format_decimal(rate, format="#,##0.##", locale=_locale(locale)) + " %"


def letterhead(seller: dict[str, Any], buyer: dict[str, Any], t: Texts) -> dict[str, Any]:
    """What ``_letterhead.typ.j2`` shows: sender line, seller's address and bank, recipient."""
    seller_address = (
        f"{seller['street']} {seller['house_number']}, {seller['postcode']} {seller['city']}"
    )
    recipient = (
        buyer.get("company"),
        buyer["name"],
        f"{buyer['street']} {buyer['house_number']}",
        f"{buyer['postcode']} {buyer['city']}",
        t.country_name(buyer["country"]) if buyer["country"] != "DE" else None,
    )
    return {
        "t": t,
        "seller": seller,
        "seller_address": seller_address,
        "seller_iban": _grouped(seller["iban"]),
        "sender_line": f"{seller['name']} · {seller_address}",
        "buyer_address": [row for row in recipient if row],
    }


def template_context(doc: InvoiceDoc) -> dict[str, Any]:
    """Everything the template shows, formatted for the buyer's language."""
    language = doc.buyer.get("language", "de")
    locale = "de_DE" if language == "de" else "en_GB"
    t = texts(language)
    seller, buyer, payment = doc.seller, doc.buyer, doc.payment
    period = f"{_day(doc.service_start, locale)} – {_day(doc.last_service_day, locale)}"
    header_rows = [
        (t.number_credit if doc.is_credit_note else t.number, doc.number),
        (t.date, _day(doc.issue_date, locale)),
        (t.customer_number, buyer["customer_number"]),
        (t.service_period, period),
    ]
    if buyer.get("vat_id"):
        header_rows.append((t.your_vat_id, buyer["vat_id"]))
    if buyer.get("buyer_reference"):
        header_rows.append((t.buyer_reference, buyer["buyer_reference"]))

    lines = []
    for line in doc.lines:
        lines.append(
            {
                "position": line.position,
                "description": line.description,
                "period": f"{_day(line.service_start, locale)} – {_day(line.last_day, locale)}",
                "quantity": line.quantity,
                "unit_price": _money(round(line.net_cents / line.quantity), locale),
                "rate": "—" if line.category == "O" else _rate(line.rate, locale),
                "amount": _money(line.net_cents, locale),
            }
        )
    totals = [(t.net_total, _money(doc.net_cents, locale))]
    for group in doc.tax_groups:
        if group.category == "S":
            totals.append((t.vat_on(_rate(group.rate, locale), _money(group.basis_cents, locale)),
                           _money(group.tax_cents, locale)))  # fmt: skip
        else:
            totals.append((t.vat_zero, _money(0, locale)))

    notes = []
    if doc.is_credit_note and doc.reason:
        notes.append(doc.reason)
    if doc.tax_note:
        notes.append(doc.tax_note)
    if doc.oss:
        notes.append(t.oss_note(t.country_name(buyer["country"])))
    gross = _money(doc.gross_cents, locale)
    if doc.is_credit_note:
        notes.append(t.credit_settlement(gross))
    elif payment["method"] == "sepa_direct_debit":
        notes.append(
            t.prenotification(
                gross,
                _day(date.fromisoformat(payment["debit_date"]), locale),
                masked_iban(payment["iban"]),
                payment["mandate_reference"],
                payment["creditor_id"],
            )
        )
    else:
        notes.append(
            t.transfer(gross, _day(doc.due_date, locale), _grouped(seller["iban"]), seller["bic"],
                       seller["bank_name"], doc.number)
        )  # fmt: skip
        if buyer.get("kind") == "consumer":
            notes.append(t.default_notice)
    notes.append(t.thanks)
    title = t.title_credit if doc.is_credit_note else t.title
    preceding = (
        t.refers_to(doc.preceding_number, _day(doc.preceding_issue_date, locale))
        if doc.preceding_number and doc.preceding_issue_date
        else None
    )
    return {
        **letterhead(seller, buyer, t),
        "lang": language,
        "title": title,
        "header_rows": header_rows,
        "preceding": preceding,
        "lines": lines,
        "totals": totals,
        "gross": gross,
        "notes": notes,
    }


def render_markup(doc: InvoiceDoc) -> str:
    return _environment().get_template("invoice.typ.j2").render(**template_context(doc))


def render_pdf(doc: InvoiceDoc, xml: bytes) -> bytes:
    """PDF/A-3b with the e-invoice XML embedded as ``factur-x.xml``.

    The creation time is the issue date, so rendering the same invoice again gives the
    same content (reproduction for GoBD).
    """
    stamp = datetime.combine(doc.issue_date, time(0), UTC)
    pdf = _compiler().compile(
        input=render_markup(doc).encode(), format="pdf", pdf_standards=["a-3b"], timestamp=stamp
    )
    return embed_facturx(pdf, xml, doc)


def embed_facturx(pdf: bytes, xml: bytes, doc: InvoiceDoc) -> bytes:
    """Attach ``factur-x.xml`` and the Factur-X XMP metadata (incremental update)."""
    metadata = {
        "author": doc.seller["name"],
        "title": doc.number,
        "subject": f"{doc.number} {doc.buyer_display_name}",
        "keywords": "Factur-X, ZUGFeRD, EN 16931",
    }
    return embed_xml(pdf, xml, metadata, datetime.combine(doc.issue_date, time(0), UTC))


def render_png(doc: InvoiceDoc) -> bytes:
    """First page as PNG, to look at a rendering."""
    return _compiler().compile(input=render_markup(doc).encode(), format="png", ppi=100)
