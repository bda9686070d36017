"""Invoices and credit notes: read by support and finance; corrections only by credit note."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.auth import Principal, RequireRole
from api.credit_note_starts import start_issued
from api.deps import SessionDep, SettingsDep
from api.errors import FieldError, conflict, not_found
from config import Role
from db.credit_note_starts import PendingStart
from db.idempotency import fingerprint
from db.invoices import (
    CREDIT_NOTE,
    INVOICE,
    credited_net_cents,
    invoice_by_number,
    issue_credit_note,
    lines_of,
)
from db.models import (
    CollectionStart,
    Contract,
    CreditNoteStart,
    Invoice,
    InvoiceDocument,
    Receivable,
)
from domain.berlin_time import berlin_today

router = APIRouter(tags=["invoices"])
READERS = (Role.SUPPORT, Role.FINANCE)


class InvoiceLineOut(BaseModel):
    position: int
    product_code: str
    description: str
    quantity: int
    net_cents: int
    tax_category: str
    tax_rate: str
    service_start: date
    service_end: date = Field(description="exclusive")


class DocumentOut(BaseModel):
    kind: str
    sha256: str
    size: int


class CollectionOut(BaseModel):
    """Where the invoice's collection stands: the receivable, and its workflow's start."""

    status: str = Field(description="open | paid | collection")
    open_cents: int
    disputed: bool
    dunning_step: str | None
    start: str | None = Field(
        description="pending (its workflow starts at starts_at if the invoice is still open),"
        " started, settled (paid in time: no workflow needed); null: started at issue, or"
        " the row was deleted 400 days after it left pending"
    )
    starts_at: datetime | None


class InvoiceOut(BaseModel):
    number: str
    type_code: str
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    issue_date: date
    due_date: date
    service_start: date
    service_end: date
    currency: str
    net_cents: int
    tax_cents: int
    gross_cents: int
    tax_category: str
    oss: bool
    tax_note: str | None
    tax_groups: list[dict]
    preceding_number: str | None
    preceding_issue_date: date | None
    reason: str | None
    buyer: dict
    payment: dict
    created_at: datetime
    lines: list[InvoiceLineOut] = []
    documents: list[DocumentOut] = []
    collection: CollectionOut | None = Field(
        default=None, description="in the detail only; null for a credit note"
    )


class InvoicePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[InvoiceOut]


class CreditLine(BaseModel):
    position: int = Field(ge=1)
    net_cents: int = Field(gt=0)


MAX_OFFSET = 1_000_000_000  # deeper pages are a mistake (and would overflow a bigint)


class CreditNoteIn(BaseModel):
    reason: str = Field(min_length=3, max_length=500)
    lines: list[CreditLine] | None = Field(
        default=None, description="partial credit per line (net cents); omit for a full credit"
    )


def _out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        **invoice.model_dump(include=set(InvoiceOut.model_fields) - {"lines", "documents"})
    )


async def _detail(session: SessionDep, invoice: Invoice) -> InvoiceOut:
    out = _out(invoice)
    out.lines = [
        InvoiceLineOut(**row.model_dump(include=set(InvoiceLineOut.model_fields)))
        for row in await lines_of(session, invoice.id)  # type: ignore[arg-type]
    ]
    documents = await session.execute(
        select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id)
    )
    out.documents = [
        DocumentOut(kind=d.kind, sha256=d.sha256, size=d.size) for d in documents.scalars()
    ]
    receivable = await session.get(Receivable, invoice.number)
    if receivable is not None:
        start = await session.get(CollectionStart, invoice.number)
        out.collection = CollectionOut(
            status=receivable.status, open_cents=receivable.open_cents,
            disputed=receivable.disputed, dunning_step=receivable.dunning_step,
            start=start.state if start else None, starts_at=start.wake_at if start else None,
        )  # fmt: skip
    return out


async def _invoice(session: SessionDep, number: str) -> Invoice:
    invoice = await invoice_by_number(session, number)
    if invoice is None:
        raise not_found("invoice")
    return invoice


async def _page(session: SessionDep, query, limit: int, offset: int) -> InvoicePage:  # type: ignore[no-untyped-def]
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(Invoice.id.desc()).limit(limit).offset(offset))
    return InvoicePage(
        total=total, limit=limit, offset=offset, items=[_out(i) for i in rows.scalars()]
    )


@router.get("/v1/invoices", response_model=InvoicePage)
async def list_invoices(
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    type: Annotated[str | None, Query(pattern="^(invoice|credit_note)$")] = None,
    status: Annotated[
        str | None, Query(pattern="^(open|paid|collection)$", description="payment status")
    ] = None,
    issued_from: date | None = None,
    issued_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> InvoicePage:
    """Newest first; ``status`` is the payment status of the invoice's receivable."""
    query = select(Invoice)
    if status:
        query = query.join(Receivable, Receivable.invoice_number == Invoice.number).where(
            Receivable.status == status
        )
    if contract_id:
        query = query.where(Invoice.contract_id == contract_id)
    if customer_id:
        query = query.where(Invoice.customer_id == customer_id)
    if type:
        query = query.where(Invoice.type_code == (INVOICE if type == "invoice" else CREDIT_NOTE))
    if issued_from:
        query = query.where(Invoice.issue_date >= issued_from)
    if issued_to:
        query = query.where(Invoice.issue_date <= issued_to)
    return await _page(session, query, limit, offset)


@router.get("/v1/contracts/{contract_id}/invoices", response_model=InvoicePage)
async def contract_invoices(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> InvoicePage:
    if await session.get(Contract, contract_id) is None:
        raise not_found("contract")
    return await _page(
        session, select(Invoice).where(Invoice.contract_id == contract_id), limit, offset
    )


async def _document(session: SessionDep, number: str, kind: str) -> Path:
    invoice = await _invoice(session, number)
    document = (
        await session.execute(
            select(InvoiceDocument).where(
                InvoiceDocument.invoice_id == invoice.id, InvoiceDocument.kind == kind
            )
        )
    ).scalar_one_or_none()
    if document is None:
        raise not_found(f"{kind} of {number} (documents are rendered right after issue)")
    return Path(document.path)


@router.get("/v1/invoices/{number}.pdf", response_class=FileResponse)
async def invoice_pdf(
    number: str,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
) -> FileResponse:
    """The PDF/A-3 with the embedded EN 16931 XML, exactly as archived."""
    path = await _document(session, number, "pdf")
    return FileResponse(path, media_type="application/pdf", filename=f"{number}.pdf")


@router.get("/v1/invoices/{number}.xml", response_class=FileResponse)
async def invoice_xml(
    number: str,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
    xrechnung: bool = False,
) -> FileResponse:
    """The EN 16931 CII XML (``?xrechnung=true``: the XRechnung for public-sector buyers)."""
    path = await _document(session, number, "xrechnung" if xrechnung else "xml")
    return FileResponse(path, media_type="application/xml", filename=path.name)


@router.get("/v1/invoices/{number}", response_model=InvoiceOut)
async def get_invoice(
    number: str,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
) -> InvoiceOut:
    return await _detail(session, await _invoice(session, number))


@router.post(
    "/v1/invoices/{number}/credit-notes",
    response_model=InvoiceOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "the same request again: the credit note issued first"}},
)
async def create_credit_note(
    number: str,
    body: CreditNoteIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.FINANCE))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> InvoiceOut:
    """A credit note (type 381) referencing the invoice: full, or per line in net cents.
    Credits of one invoice can never exceed it. Issued even while Temporal is down: its
    workflow (render, send, book) is started by this request or the relay."""
    credits = None if body.lines is None else {line.position: line.net_cents for line in body.lines}
    if credits is not None and len(credits) != len(body.lines or []):
        raise FieldError(("lines",), "each position at most once").to_http()
    key = idempotency_key or fingerprint(body.model_dump(mode="json"))
    async with session.begin():
        original = await _invoice(session, number)
        if original.type_code != INVOICE:
            raise conflict("only invoices can be credited, not credit notes")
        await session.get(Contract, original.contract_id, with_for_update=True)  # serialise
        credited = await credited_net_cents(session, number)
        try:
            note, created = await issue_credit_note(
                session, original=original, credits=credits, reason=body.reason,
                credit_key=f"{number}:{key}", issue_date=berlin_today(), settings=settings,
            )  # fmt: skip
        except ValueError as error:
            raise FieldError(("lines",), str(error)).to_http() from None
        if created and credited + note.net_cents > original.net_cents:
            raise conflict(
                f"credits would exceed the invoice: {credited} of {original.net_cents} "
                "net cents are credited already"
            )
        start = PendingStart(
            number=note.number, summary=f"Credit note {note.number} for {number}",
            contract_id=str(note.contract_id), customer_id=str(note.customer_id),
        )  # fmt: skip
        if created:  # its workflow renders, sends and books it: never left out (a crash)
            session.add(CreditNoteStart(number=start.number, summary=start.summary))
        out = await _detail(session, note)
    if not created:
        response.status_code = status.HTTP_200_OK
    await start_issued(request.app.state, start)  # or the relay, should Temporal be down
    return out
