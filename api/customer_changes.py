"""Changing a customer's data: the rules that need the stored customer (its kind, its
mandate, other customers' mandates), and the record of what changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import FieldError
from api.schemas import CustomerChange, PaymentMethod
from db.models import Customer, CustomerFlag, SepaMandate
from db.models import CustomerChange as CustomerChangeRow
from documents.pdf import masked_iban

MANDATE = ("sepa_mandate", "mandate_reference")


def _wanted(body: CustomerChange) -> dict[str, Any]:
    """The customer's columns as the change sets them (only the fields sent)."""
    sent = body.model_fields_set
    wanted: dict[str, Any] = {}
    for field in ("name", "company", "vat_id", "buyer_reference"):
        if field in sent:
            wanted[field] = getattr(body, field)
    for field in ("language", "payment_method", "invoice_channel"):
        if field in sent:
            wanted[field] = getattr(body, field).value
    if "email" in sent:
        wanted["email"] = str(body.email)
    if body.address is not None:
        wanted.update(body.address.model_dump())
    mandate = body.sepa_mandate
    if mandate is not None:
        wanted.update(
            iban=mandate.iban,
            bic=mandate.bic_or_derived(),
            mandate_reference=mandate.mandate_reference,
            mandate_signed_on=mandate.signed_on,
        )
    return wanted


async def apply_change(
    session: AsyncSession, customer: Customer, body: CustomerChange, actor: str
) -> dict[str, Any]:
    """Apply the change to the locked customer row and record it; returns what changed
    (nothing, for a request that sets what is stored already). Raises FieldError."""
    changed = {
        column: value
        for column, value in _wanted(body).items()
        if getattr(customer, column) != value
    }
    if not changed:
        return changed
    if customer.kind == "business" and "company" in changed and not changed["company"]:
        raise FieldError(("company",), "a business customer needs a company name")
    if customer.kind == "consumer" and changed.get("vat_id"):
        raise FieldError(("vat_id",), "only business customers have a VAT ID")
    if "payment_method" in changed or "mandate_reference" in changed or "iban" in changed:
        await _change_mandate(session, customer, body)
    for column, value in changed.items():
        setattr(customer, column, value)
    if "email" in changed:  # support fixed the address the mail bounced from
        await session.execute(
            delete(CustomerFlag).where(
                CustomerFlag.customer_id == customer.id, CustomerFlag.flag == "email_bounced"
            )
        )
    session.add(
        CustomerChangeRow(customer_id=customer.id, changes=_shown(changed), recorded_by=actor)
    )
    return changed


async def _change_mandate(session: AsyncSession, customer: Customer, body: CustomerChange) -> None:
    """A new mandate is stored (its reference is this customer's for good) and replaces the
    current one; a switch to transfer ends the current one. Debits already registered keep
    the mandate they were registered with."""
    current = customer.mandate_reference
    new = body.sepa_mandate
    if new is not None and new.mandate_reference == current:
        if customer.payment_method == PaymentMethod.SEPA_DIRECT_DEBIT.value:
            raise FieldError(MANDATE, "another account or date needs a new mandate reference")
        raise FieldError(MANDATE, "this mandate was ended; a new mandate needs a new reference")
    if new is not None:
        stored = await session.execute(
            insert(SepaMandate)
            .values(
                reference=new.mandate_reference,
                customer_id=customer.id,
                iban=new.iban,
                bic=new.bic_or_derived(),
                signed_on=new.signed_on,
                status="active",
            )
            .on_conflict_do_nothing()
            .returning(SepaMandate.reference)
        )
        taken_by_a_customer = await session.scalar(
            select(Customer.id).where(
                Customer.mandate_reference == new.mandate_reference, Customer.id != customer.id
            )
        )
        if stored.first() is None or taken_by_a_customer is not None:
            raise FieldError(MANDATE, "this mandate reference is in use already")
    if current is not None:
        mandate = await session.get(SepaMandate, current, with_for_update=True)
        if mandate is None and customer.iban and customer.mandate_signed_on:  # never used yet
            session.add(
                SepaMandate(
                    reference=current,
                    customer_id=customer.id,
                    iban=customer.iban,
                    bic=customer.bic,
                    signed_on=customer.mandate_signed_on,
                    status="revoked",
                )
            )
        elif mandate is not None and mandate.status == "active":
            mandate.status = "revoked"


def _shown(changed: dict[str, Any]) -> dict[str, Any]:
    """What the record keeps: JSON values, the IBAN masked."""
    shown: dict[str, Any] = {}
    for column, value in changed.items():
        if column == "iban" and value:
            value = masked_iban(value)
        shown[column] = value.isoformat() if hasattr(value, "isoformat") else value
    return shown
