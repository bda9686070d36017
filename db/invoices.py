"""Issuing invoices and credit notes: gapless numbers, snapshots, idempotency.

Everything happens in the caller's transaction: the number is taken from a locked
counter row and the invoice is inserted in the same transaction, so a rollback
returns the number and no gap or duplicate can arise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from db.driver import driver_of, insert_row, insert_rows
from db.models import BillingEntry, Contract, Customer, Invoice, InvoiceLineRow
from domain.invoicing import (
    Charge,
    InvoiceDraft,
    InvoiceLine,
    TaxGroup,
    build_invoice,
    credit_note,
    format_number,
)
from domain.tax import TaxCategory, TaxTreatment, treatment_for

INVOICE = "380"
CREDIT_NOTE = "381"


@dataclass(frozen=True)
class IssuedInvoice:
    """An invoice and its lines as one transaction wrote or read them."""

    invoice: Invoice
    lines: list[InvoiceLineRow]


async def invoice_by_number(session: AsyncSession, number: str) -> Invoice | None:
    return (
        await session.execute(select(Invoice).where(Invoice.number == number))
    ).scalar_one_or_none()


async def next_number(session: AsyncSession, prefix: str, year: int) -> str:
    """The next number of the series; the counter row stays locked until the caller commits."""
    value = await (await driver_of(session)).fetchval(
        "INSERT INTO invoice_counter (series, last_value) VALUES ($1, 1) "
        "ON CONFLICT (series) DO UPDATE SET last_value = invoice_counter.last_value + 1 "
        "RETURNING last_value",
        f"{prefix}-{year}",
    )
    return format_number(prefix, year, value)


def treatment_of(customer: Customer) -> TaxTreatment:
    return treatment_for(
        customer.country, business=customer.kind == "business", vat_id=customer.vat_id
    )


def buyer_snapshot(customer: Customer) -> dict[str, Any]:
    """The buyer as the invoice shows it, frozen at issue time."""
    return {
        "customer_id": str(customer.id),
        "customer_number": customer.crm_reference,
        "kind": customer.kind,
        "name": customer.name,
        "company": customer.company,
        "street": customer.street,
        "house_number": customer.house_number,
        "postcode": customer.postcode,
        "city": customer.city,
        "country": customer.country,
        "email": customer.email,
        "language": customer.language,
        "vat_id": customer.vat_id,
        "buyer_reference": customer.buyer_reference,
        "invoice_channel": customer.invoice_channel,
    }


def payment_snapshot(customer: Customer, issue_date: date, settings: Settings) -> dict[str, Any]:
    if customer.payment_method == "sepa_direct_debit":
        return {
            "method": customer.payment_method,
            "iban": customer.iban,
            "bic": customer.bic,
            "mandate_reference": customer.mandate_reference,
            "mandate_signed_on": customer.mandate_signed_on.isoformat()
            if customer.mandate_signed_on
            else None,
            "creditor_id": settings.seller.creditor_id,
            "debit_date": (issue_date + timedelta(days=settings.sepa_debit_lead_days)).isoformat(),
        }
    return {
        "method": customer.payment_method,
        "iban": settings.seller.iban,
        "bic": settings.seller.bic,
        "bank_name": settings.seller.bank_name,
        "due_date": (issue_date + timedelta(days=settings.payment_terms_days)).isoformat(),
    }


def _groups_json(draft: InvoiceDraft) -> list[dict[str, Any]]:
    return [
        {"category": g.category.value, "rate": str(g.rate), "basis_cents": g.basis_cents,
         "tax_cents": g.tax_cents}
        for g in draft.tax_groups
    ]  # fmt: skip


def _line_rows(invoice_id: int, draft: InvoiceDraft) -> list[InvoiceLineRow]:
    return [
        InvoiceLineRow(
            invoice_id=invoice_id,
            position=line.position,
            product_code=line.product_code,
            description=line.description,
            quantity=line.quantity,
            net_cents=line.net_cents,
            tax_category=line.category.value,
            tax_rate=str(line.rate),
            service_start=line.service_start,
            service_end=line.service_end,
        )
        for line in draft.lines
    ]


async def _insert(
    session: AsyncSession,
    *,
    number: str,
    type_code: str,
    draft: InvoiceDraft,
    contract: Contract,
    customer: Customer,
    issue_date: date,
    prices_include_vat: bool,
    settings: Settings,
    **extra: Any,
) -> IssuedInvoice:
    payment = payment_snapshot(customer, issue_date, settings)
    due = payment.get("debit_date") or payment["due_date"]
    invoice = Invoice(
        number=number,
        type_code=type_code,
        contract_id=contract.id,
        customer_id=customer.id,
        issue_date=issue_date,
        due_date=date.fromisoformat(due),
        service_start=draft.service_start,
        service_end=draft.service_end,
        net_cents=draft.net_cents,
        tax_cents=draft.tax_cents,
        gross_cents=draft.gross_cents,
        tax_category=draft.treatment.category.value,
        oss=draft.treatment.oss,
        tax_note=draft.treatment.note,
        exemption_code=draft.treatment.exemption_code,
        tax_groups=_groups_json(draft),
        prices_include_vat=prices_include_vat,
        buyer=buyer_snapshot(customer),
        payment=payment,
        **extra,
    )
    db = await driver_of(session)  # the ORM's flush cost more than the two statements
    await insert_row(db, invoice)
    assert invoice.id is not None
    lines = _line_rows(invoice.id, draft)
    await insert_rows(db, lines)
    return IssuedInvoice(invoice, lines)


async def latest_invoice(session: AsyncSession, contract_id: Any) -> Invoice | None:
    rows = await session.execute(
        select(Invoice)
        .where(Invoice.contract_id == contract_id, Invoice.type_code == INVOICE)
        .order_by(Invoice.id.desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


async def issue_for_entry(
    session: AsyncSession,
    *,
    entry: BillingEntry,
    contract: Contract,
    customer: Customer,
    issue_date: date,
    settings: Settings,
    fresh_entry: bool = False,
) -> IssuedInvoice | None:
    """The invoice (or, for a net credit, credit note) of a billing entry; once per entry.

    ``fresh_entry``: the caller inserted the entry in this transaction, so it has no
    invoice yet and the look-up is skipped."""
    if not entry.lines or entry.total_cents == 0:
        return None
    if not fresh_entry:
        existing = (
            await session.execute(select(Invoice).where(Invoice.billing_entry_id == entry.id))
        ).scalar_one_or_none()
        if existing is not None:
            return IssuedInvoice(existing, await lines_of(session, existing.id))  # type: ignore[arg-type]
    sign = 1 if entry.total_cents > 0 else -1
    charges = [
        Charge(
            product_code=line["product_code"],
            description=line["description"],
            quantity=line["quantity"],
            amount_cents=sign * line["amount_cents"],
            service_start=date.fromisoformat(line["service_start"]),
            service_end=max(
                date.fromisoformat(line["service_end"]), date.fromisoformat(line["service_start"])
            ),
        )
        for line in entry.lines
    ]
    draft = build_invoice(
        charges, treatment=treatment_of(customer), prices_include_vat=entry.prices_include_vat
    )
    extra: dict[str, Any] = {"billing_entry_id": entry.id}
    if sign > 0:
        prefix, type_code = settings.invoice_prefix, INVOICE
    else:
        prefix, type_code = settings.credit_note_prefix, CREDIT_NOTE
        preceding = await latest_invoice(session, contract.id)
        if preceding is not None:
            extra |= {
                "preceding_number": preceding.number,
                "preceding_issue_date": preceding.issue_date,
            }
        extra["reason"] = "Gutschrift für nicht genutzte Leistung"
    number = await next_number(session, prefix, issue_date.year)
    return await _insert(
        session, number=number, type_code=type_code, draft=draft, contract=contract,
        customer=customer, issue_date=issue_date, prices_include_vat=entry.prices_include_vat,
        settings=settings, **extra,
    )  # fmt: skip


def stored_lines(rows: list[InvoiceLineRow]) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            position=row.position,
            product_code=row.product_code,
            description=row.description,
            quantity=row.quantity,
            net_cents=row.net_cents,
            category=TaxCategory(row.tax_category),
            rate=Decimal(row.tax_rate),
            service_start=row.service_start,
            service_end=row.service_end,
        )
        for row in rows
    ]


def stored_groups(invoice: Invoice) -> list[TaxGroup]:
    return groups_from_json(invoice.tax_groups)


def groups_from_json(groups: list[dict[str, Any]]) -> list[TaxGroup]:
    """An invoice's VAT groups as ``_groups_json`` stored them."""
    return [
        TaxGroup(TaxCategory(g["category"]), Decimal(g["rate"]), g["basis_cents"], g["tax_cents"])
        for g in groups
    ]


async def lines_of(session: AsyncSession, invoice_id: int) -> list[InvoiceLineRow]:
    rows = await session.execute(
        select(InvoiceLineRow)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .order_by(InvoiceLineRow.position)
    )
    return list(rows.scalars())


async def credited_net_cents(session: AsyncSession, number: str) -> int:
    """What the credit notes of invoice ``number`` have credited so far (net)."""
    total = await session.execute(
        select(func.coalesce(func.sum(Invoice.net_cents), 0)).where(
            Invoice.preceding_number == number, Invoice.type_code == CREDIT_NOTE
        )
    )
    return total.scalar_one()


async def issue_credit_note(
    session: AsyncSession,
    *,
    original: Invoice,
    credits: dict[int, int] | None,
    reason: str,
    credit_key: str,
    issue_date: date,
    settings: Settings,
) -> tuple[Invoice, bool]:
    """A credit note for ``original`` (full, or per line in net cents); once per key."""
    existing = (
        await session.execute(select(Invoice).where(Invoice.credit_key == credit_key))
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    contract = await session.get(Contract, original.contract_id, with_for_update=True)
    customer = await session.get(Customer, original.customer_id)
    assert contract is not None and customer is not None
    treatment = TaxTreatment(
        TaxCategory(original.tax_category),
        None,
        oss=original.oss,
        note=original.tax_note,
        exemption_code=original.exemption_code,
    )
    lines = stored_lines(await lines_of(session, original.id))  # type: ignore[arg-type]
    draft = credit_note(lines, stored_groups(original), treatment, credits)
    number = await next_number(session, settings.credit_note_prefix, issue_date.year)
    issued = await _insert(
        session, number=number, type_code=CREDIT_NOTE, draft=draft, contract=contract,
        customer=customer, issue_date=issue_date, prices_include_vat=original.prices_include_vat,
        settings=settings, credit_key=credit_key, preceding_number=original.number,
        preceding_issue_date=original.issue_date, reason=reason,
    )  # fmt: skip
    return issued.invoice, True
