"""Booking rules for the accounting export (reference §5.1, Soll-Versteuerung).

Every issued invoice and credit note is booked on the receivables account against the
revenue account of its tax case, and every bank movement the bank reconciliation matched
is booked between the bank and the receivables account. Invoice numbers go into
Belegfeld 1, so a payment settles its invoice's open item in the books too.

The receivables are one collective account: at a million customers personal debtor
accounts do not fit DATEV's account lengths, and faktura keeps the open items per invoice
itself (reference §5.1). [StB] The accounts and tax keys are the tax advisor's to confirm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from domain.invoicing import TaxGroup
from domain.tax import TaxCategory

# DATEV writes Greece as EL in EU fields (field 40), as the VIES does.
EU_FIELD_COUNTRY = {"GR": "EL"}


class UnmappedTaxCase(ValueError):
    """A document whose tax case has no account (or tax key) in the configured chart."""


@dataclass(frozen=True)
class ChartOfAccounts:
    """The accounts of one standard chart (DATEV's SKR 03 or 04)."""

    skr: str  # "03" | "04": the header's chart field
    receivables: str
    bank: str
    bank_fees: str
    revenue_by_rate: Mapping[Decimal, str]  # German rates: automatic accounts (VAT split off)
    reverse_charge: str  # EU business, §3a Abs. 2 / §13b: the customer owes the VAT
    not_subject: str  # outside the EU: not taxable in Germany
    oss_revenue: str | None = None  # EU consumers (OSS): no default, the advisor names it
    oss_tax_key: str | None = None


SKR03 = ChartOfAccounts(
    skr="03", receivables="1400", bank="1200", bank_fees="4970",
    revenue_by_rate={Decimal(19): "8400", Decimal(7): "8300"},
    reverse_charge="8336", not_subject="8338",
)  # fmt: skip
SKR04 = ChartOfAccounts(
    skr="04", receivables="1200", bank="1800", bank_fees="6855",
    revenue_by_rate={Decimal(19): "4400", Decimal(7): "4300"},
    reverse_charge="4336", not_subject="4338",
)  # fmt: skip
CHARTS = {"SKR03": SKR03, "SKR04": SKR04}


@dataclass(frozen=True)
class Booking:
    """One line of a DATEV booking batch; ``side`` is Soll (S) or Haben (H) of ``account``."""

    amount_cents: int  # always positive
    side: str
    account: str
    contra_account: str
    day: date  # Belegdatum
    document: str  # Belegfeld 1: the invoice number, the key of the open item
    text: str  # Buchungstext
    tax_key: str = ""  # BU-Schlüssel
    eu_country_or_vat_id: str = ""  # field 40
    eu_rate: Decimal | None = None  # field 41: the destination country's rate
    service_day: date | None = None  # Leistungsdatum
    due_day: date | None = None  # Fälligkeit


@dataclass(frozen=True)
class IssuedDocument:
    """What the books need of an issued invoice (380) or credit note (381)."""

    number: str
    credit_note: bool
    issue_date: date
    due_date: date
    service_start: date
    buyer_name: str
    buyer_country: str
    buyer_vat_id: str | None
    oss: bool
    groups: tuple[TaxGroup, ...]
    corrects: str | None = None  # a credit note's invoice


@dataclass(frozen=True)
class BankMovement:
    """A matched line of a bank statement, as the bank booked it."""

    invoice_number: str
    day: date
    amount_cents: int  # money in > 0; a return debit < 0, the bank's fee included
    fee_cents: int = 0  # the bank's fee within a return
    payer: str = ""
    return_reason: str | None = None


def document_bookings(document: IssuedDocument, chart: ChartOfAccounts) -> list[Booking]:
    """One booking per tax group: receivables against the revenue of the tax case, gross
    (the automatic accounts split the German VAT off; OSS carries its tax key and rate)."""
    bookings = []
    for group in document.groups:
        gross = group.basis_cents + group.tax_cents
        if gross == 0:
            continue  # DATEV refuses an amount of 0
        side = "H" if document.credit_note else "S"
        if gross < 0:
            side = "S" if side == "H" else "H"
        kind = "Gutschrift" if document.credit_note else "Rechnung"
        if document.corrects:
            kind += f" zu {document.corrects}"
        bookings.append(
            replace(
                _tax_case(document, group, chart),
                amount_cents=abs(gross),
                side=side,
                account=chart.receivables,
                day=document.issue_date,
                document=document.number,
                text=f"{kind} {document.buyer_name}",
                service_day=document.service_start,
                due_day=None if document.credit_note else document.due_date,
            )
        )
    return bookings


def _tax_case(document: IssuedDocument, group: TaxGroup, chart: ChartOfAccounts) -> Booking:
    """A booking template holding the revenue account and the EU fields of one group."""
    blank = Booking(0, "S", "", "", document.issue_date, document.number, "")
    if group.category is TaxCategory.REVERSE_CHARGE:
        if not document.buyer_vat_id:
            raise UnmappedTaxCase(f"{document.number}: reverse charge without the buyer's VAT ID")
        return replace(blank, contra_account=chart.reverse_charge,
                       eu_country_or_vat_id=_eu_vat_id(document.buyer_vat_id))  # fmt: skip
    if group.category is TaxCategory.NOT_SUBJECT:
        return replace(blank, contra_account=chart.not_subject)
    if document.oss:
        if not (chart.oss_revenue and chart.oss_tax_key):
            raise UnmappedTaxCase(
                f"{document.number}: an OSS sale to {document.buyer_country} needs the OSS "
                "revenue account and tax key (FAKTURA_ACCOUNTING__OSS_REVENUE_ACCOUNT, "
                "FAKTURA_ACCOUNTING__OSS_TAX_KEY), which the tax advisor names"
            )
        country = EU_FIELD_COUNTRY.get(document.buyer_country, document.buyer_country)
        return replace(blank, contra_account=chart.oss_revenue, tax_key=chart.oss_tax_key,
                       eu_country_or_vat_id=country, eu_rate=group.rate)  # fmt: skip
    account = chart.revenue_by_rate.get(group.rate)
    if account is None:
        raise UnmappedTaxCase(f"{document.number}: no revenue account for {group.rate} % VAT")
    return replace(blank, contra_account=account)


def _eu_vat_id(vat_id: str) -> str:
    compact = vat_id.replace(" ", "").upper()
    return EU_FIELD_COUNTRY.get(compact[:2], compact[:2]) + compact[2:]


def movement_bookings(movement: BankMovement, chart: ChartOfAccounts) -> list[Booking]:
    """Money in: bank to receivables. A return debit: receivables back for what was
    collected, and the bank's fee as an expense."""
    common = {"account": chart.bank, "day": movement.day, "document": movement.invoice_number}
    if movement.amount_cents > 0:
        return [Booking(movement.amount_cents, "S", contra_account=chart.receivables,
                        text=f"Zahlung {movement.invoice_number} {movement.payer}",
                        **common)]  # fmt: skip
    returned = -movement.amount_cents - movement.fee_cents
    reason = movement.return_reason or ""
    bookings = [
        Booking(
            returned,
            "H",
            contra_account=chart.receivables,
            text=f"Rücklastschrift {movement.invoice_number} {reason}",
            **common,
        )
    ]
    if movement.fee_cents:
        bookings.append(Booking(movement.fee_cents, "H", contra_account=chart.bank_fees,
                                text=f"Gebühr Rücklastschrift {movement.invoice_number}",
                                **common))  # fmt: skip
    return bookings


def into_period(booking: Booking, first_day: date) -> Booking:
    """A booking that arrived after its month was exported goes into the next batch, dated
    on that batch's first day: an exported batch is never exported again (reference §5.3,
    ACC-03). Its text keeps the real day."""
    if booking.day >= first_day:
        return booking
    return replace(booking, day=first_day, text=f"{booking.text} vom {booking.day:%d.%m.%Y}")
