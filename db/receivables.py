"""Receivables and bookings: what is open on an invoice, and idempotent payments on it.

Every booking has a unique key (``line:<bank line id>``, ``credit:<credit note>``), so an
imported statement, a retried activity or a repeated request books once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    BankLine,
    BookingNotice,
    Customer,
    CustomerCredit,
    Payment,
    Receivable,
    SepaDebit,
    SepaMandate,
    utcnow,
)

# Any series' number (FAKTURA_INVOICE_PREFIX is configurable); only a receivable's matches.
INVOICE_NUMBER = re.compile(r"\b([A-Z]{1,7}-\d{4}-\d{7})\b")


@dataclass(frozen=True)
class Booked:
    """A booking the invoice's workflow must hear of."""

    invoice_number: str
    contract_id: str
    kind: str  # payment | return
    amount_cents: int
    open_cents: int
    reason: str | None = None
    fee_cents: int = 0
    key: str = ""


async def lock_receivable(session: AsyncSession, number: str) -> Receivable | None:
    return await session.get(Receivable, number, with_for_update=True)


async def book(
    session: AsyncSession,
    receivable: Receivable,
    *,
    key: str,
    kind: str,
    amount_cents: int,
    booked_on: date,
    bank_line_id: int | None = None,
    reason: str | None = None,
    fee_cents: int = 0,
) -> Booked | None:
    """Book once per key; an over-payment becomes a customer credit. None if booked before."""
    applied = amount_cents
    if amount_cents > 0:
        applied = min(amount_cents, receivable.open_cents)
    inserted = await session.execute(
        insert(Payment)
        .values(booking_key=key, invoice_number=receivable.invoice_number, kind=kind,
                amount_cents=applied, booked_on=booked_on, bank_line_id=bank_line_id,
                reason=reason, fee_cents=fee_cents)
        .on_conflict_do_nothing()
        .returning(Payment.id)
    )  # fmt: skip
    if inserted.scalar_one_or_none() is None:
        return None
    if bank_line_id is not None:  # the workflow is told after the commit, or by the relay
        session.add(BookingNotice(booking_key=key))
    if amount_cents > applied:
        session.add(
            CustomerCredit(
                customer_id=receivable.customer_id,
                amount_cents=amount_cents - applied,
                source=f"over-payment of {receivable.invoice_number} ({key})",
            )
        )
    receivable.paid_cents += applied
    if receivable.status != "collection":
        receivable.status = "paid" if receivable.open_cents <= 0 else "open"
    receivable.updated_at = utcnow()
    return Booked(
        invoice_number=receivable.invoice_number,
        contract_id=str(receivable.contract_id),
        kind="return" if amount_cents < 0 else "payment",
        amount_cents=applied,
        open_cents=receivable.open_cents,
        reason=reason,
        fee_cents=fee_cents,
        key=key,
    )


async def match(session: AsyncSession, line: BankLine) -> tuple[str, str] | None:
    """(invoice number, rule) by the cascade: EndToEndId -> number in the remittance text ->
    amount and IBAN of exactly one open invoice."""
    if line.end_to_end_id:
        debit = (
            await session.execute(
                select(SepaDebit).where(SepaDebit.end_to_end_id == line.end_to_end_id)
            )
        ).scalar_one_or_none()
        if debit is not None:
            return debit.invoice_number, "end_to_end_id"
        if await session.get(Receivable, line.end_to_end_id) is not None:
            return line.end_to_end_id, "end_to_end_id"
    for candidate in INVOICE_NUMBER.findall(line.remittance or ""):
        if await session.get(Receivable, candidate) is not None:
            return candidate, "remittance"
    if line.counterparty_iban and line.amount_cents > 0:
        customers = (
            select(Customer.id)
            .where(Customer.iban == line.counterparty_iban)
            .union(
                select(SepaMandate.customer_id).where(SepaMandate.iban == line.counterparty_iban)
            )
        )
        rows = (
            (
                await session.execute(
                    select(Receivable.invoice_number).where(
                        Receivable.customer_id.in_(customers),
                        Receivable.status == "open",
                        Receivable.amount_cents - Receivable.paid_cents == line.amount_cents,
                    )
                )
            )
            .scalars()
            .all()
        )
        if len(rows) == 1:
            return rows[0], "amount_and_iban"
    return None


async def book_line(
    session: AsyncSession, line: BankLine, number: str, rule: str, actor: str | None = None
) -> Booked | None:
    receivable = await lock_receivable(session, number)
    if receivable is None:
        return None
    line.status, line.invoice_number, line.matched_by = "matched", number, rule
    if actor:
        line.assigned_by, line.assigned_at = actor, utcnow()
    if line.amount_cents < 0 and line.return_reason:
        original = -line.amount_cents - line.fee_cents
        return await book(
            session, receivable, key=f"line:{line.id}", kind="return", amount_cents=-original,
            booked_on=line.booking_date, bank_line_id=line.id, reason=line.return_reason,
            fee_cents=line.fee_cents,
        )  # fmt: skip
    kind = "debit" if rule == "end_to_end_id" and line.end_to_end_id else "transfer"
    return await book(
        session, receivable, key=f"line:{line.id}", kind=kind, amount_cents=line.amount_cents,
        booked_on=line.booking_date, bank_line_id=line.id,
    )  # fmt: skip


async def return_fees(session: AsyncSession, number: str) -> int:
    total = await session.execute(
        select(func.coalesce(func.sum(Payment.fee_cents), 0)).where(
            Payment.invoice_number == number, Payment.kind == "return"
        )
    )
    return int(total.scalar_one())


async def customer_of_receivable(session: AsyncSession, number: str) -> uuid.UUID | None:
    receivable = await session.get(Receivable, number)
    return receivable.customer_id if receivable else None
