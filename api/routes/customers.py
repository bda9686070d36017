"""Customers: created by the CRM, changed by CRM and support, read by support and finance."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import select

from api.auth import Principal, RequireRole
from api.creation import claim_creation
from api.customer_changes import apply_change
from api.deps import SessionDep, SettingsDep
from api.errors import FieldError, not_found
from api.schemas import (
    Address,
    CustomerChange,
    CustomerChangeOut,
    CustomerCreate,
    CustomerKind,
    CustomerOut,
    SepaMandate,
    fingerprint_source,
)
from config import Role
from db.driver import driver_of
from db.idempotency import fingerprint
from db.models import Customer, CustomerCredit, CustomerFlag
from db.models import CustomerChange as CustomerChangeRow

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CONSUMER_PRICE_LIST = "consumer-de"
BUSINESS_PRICE_LIST = "business"


def customer_out(customer: Customer) -> CustomerOut:
    mandate = None
    if customer.iban and customer.mandate_reference and customer.mandate_signed_on:
        mandate = SepaMandate.model_construct(
            iban=customer.iban,
            bic=customer.bic,
            mandate_reference=customer.mandate_reference,
            signed_on=customer.mandate_signed_on,
        )
    return CustomerOut(
        id=customer.id,
        crm_reference=customer.crm_reference,
        kind=CustomerKind(customer.kind),
        name=customer.name,
        company=customer.company,
        address=Address.model_construct(
            street=customer.street,
            house_number=customer.house_number,
            postcode=customer.postcode,
            city=customer.city,
            country=customer.country,
        ),
        email=customer.email,
        language=customer.language,
        vat_id=customer.vat_id,
        payment_method=customer.payment_method,
        sepa_mandate=mandate,
        invoice_channel=customer.invoice_channel,
        buyer_reference=customer.buyer_reference,
        price_list_code=customer.price_list_code,
        created_at=customer.created_at,
    )


def _new_customer(customer_id: uuid.UUID, body: CustomerCreate, print_: str) -> Customer:
    mandate = body.sepa_mandate
    bic = mandate.bic_or_derived() if mandate else None
    return Customer(
        id=customer_id,
        crm_reference=body.crm_reference,
        kind=body.kind.value,
        name=body.name,
        company=body.company,
        **body.address.model_dump(),
        email=str(body.email),
        language=body.language.value,
        vat_id=body.vat_id,
        payment_method=body.payment_method.value,
        iban=mandate.iban if mandate else None,
        bic=bic,
        mandate_reference=mandate.mandate_reference if mandate else None,
        mandate_signed_on=mandate.signed_on if mandate else None,
        invoice_channel=body.invoice_channel.value,
        buyer_reference=body.buyer_reference,
        price_list_code=(
            CONSUMER_PRICE_LIST if body.kind is CustomerKind.CONSUMER else BUSINESS_PRICE_LIST
        ),
        request_fingerprint=print_,
    )


@router.post(
    "",
    response_model=CustomerOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "the same request again: the customer created first"}},
)
async def create_customer(
    body: CustomerCreate,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.CRM))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CustomerOut:
    """Create a customer; repeating the request (same CRM reference) returns the same one."""
    print_ = fingerprint(fingerprint_source(body))
    async with session.begin():
        got = await claim_creation(
            await driver_of(session), "customer", body.crm_reference, idempotency_key, print_
        )
        if not got.is_new:
            customer = await session.get(Customer, got.resource_id)
            assert customer is not None
            response.status_code = status.HTTP_200_OK
            return customer_out(customer)
        if body.sepa_mandate is not None:
            taken = await session.execute(
                select(Customer.id).where(
                    Customer.mandate_reference == body.sepa_mandate.mandate_reference
                )
            )
            if taken.first() is not None:
                raise FieldError(
                    ("sepa_mandate", "mandate_reference"),
                    "this mandate reference belongs to another customer",
                ).to_http()
        customer = _new_customer(got.resource_id, body, print_)
        session.add(customer)
    return customer_out(customer)


class FlaggedCustomer(BaseModel):
    customer: CustomerOut
    flag: str
    detail: str
    flagged_at: datetime


@router.get("", response_model=list[FlaggedCustomer])
async def flagged_customers(
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.SUPPORT, Role.CRM))],
    flag: Annotated[str, Query(max_length=40, description="e.g. email_bounced")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FlaggedCustomer]:
    """Customers support should look at, newest flag first."""
    rows = await session.execute(
        select(Customer, CustomerFlag)
        .join(CustomerFlag, CustomerFlag.customer_id == Customer.id)
        .where(CustomerFlag.flag == flag)
        .order_by(CustomerFlag.created_at.desc())
        .limit(limit)
    )
    return [
        FlaggedCustomer(
            customer=customer_out(customer), flag=f.flag, detail=f.detail, flagged_at=f.created_at
        )
        for customer, f in rows.all()
    ]


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(
    customer_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.CRM, Role.SUPPORT, Role.FINANCE))],
) -> CustomerOut:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise not_found("customer")
    return customer_out(customer)


@router.post("/{customer_id}/changes", response_model=CustomerOut)
async def change_customer(
    customer_id: uuid.UUID,
    body: CustomerChange,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.CRM, Role.SUPPORT))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CustomerOut:
    """Change a customer's contact data, address, language, VAT ID, invoice channel or
    payment method (a new SEPA mandate, or transfer). Only the fields sent change; the next
    invoices use them, issued ones keep theirs. A new e-mail address clears the flag
    ``email_bounced``."""
    async with session.begin():
        customer = await session.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise not_found("customer")
        try:
            await apply_change(session, customer, body, principal.actor)
        except FieldError as error:
            raise error.to_http() from None
    return customer_out(customer)


@router.get("/{customer_id}/changes", response_model=list[CustomerChangeOut])
async def customer_changes(
    customer_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.CRM, Role.SUPPORT, Role.FINANCE))],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CustomerChangeOut]:
    """What was changed, by whom and when, newest first."""
    if await session.get(Customer, customer_id) is None:
        raise not_found("customer")
    rows = await session.execute(
        select(CustomerChangeRow)
        .where(CustomerChangeRow.customer_id == customer_id)
        .order_by(CustomerChangeRow.id.desc())
        .limit(limit)
    )
    return [
        CustomerChangeOut(
            changes=row.changes, recorded_by=row.recorded_by, recorded_at=row.recorded_at
        )
        for row in rows.scalars()
    ]


class CreditOut(BaseModel):
    amount_cents: int
    source: str  # e.g. "over-payment of RE-2026-0000042 (credit:GS-2026-0000007)"
    created_at: datetime


class CreditsOut(BaseModel):
    """Money the customer has with us. faktura neither pays it out nor sets it off yet:
    support refunds it by hand from this list."""

    total_cents: int
    credits: list[CreditOut]


@router.get("/{customer_id}/credits", response_model=CreditsOut)
async def customer_credits(
    customer_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.SUPPORT, Role.FINANCE))],
) -> CreditsOut:
    """The customer's credit balance: over-payments, and credit notes on invoices that were
    paid already (a withdrawal's refund among them), oldest first."""
    if await session.get(Customer, customer_id) is None:
        raise not_found("customer")
    rows = await session.execute(
        select(CustomerCredit)
        .where(CustomerCredit.customer_id == customer_id)
        .order_by(CustomerCredit.id)
    )
    credits = [
        CreditOut(amount_cents=c.amount_cents, source=c.source, created_at=c.created_at)
        for c in rows.scalars()
    ]
    return CreditsOut(total_cents=sum(c.amount_cents for c in credits), credits=credits)
