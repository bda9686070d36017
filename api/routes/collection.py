"""Collection: SEPA files, bank statements and their lines, disputes, collection cases (finance)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal, RequireRole
from api.deps import SessionDep
from api.errors import FieldError, conflict, not_found
from config import Role
from db.bank import count_unmatched, import_statement
from db.models import BankLine, CollectionCase, Receivable, SepaBatch
from db.receivables import book_line
from documents.camt import CamtError
from temporal_client import deliver_bookings, invoice_workflow_id
from workflows.invoice import InvoiceWorkflow
from workflows.models import DisputeRequest

router = APIRouter(tags=["collection"])
FINANCE = RequireRole(Role.FINANCE)


class SepaBatchOut(BaseModel):
    id: str
    built_on: date
    transactions: int
    control_sum_cents: int
    sha256: str
    created_at: datetime


@router.get("/v1/sepa/batches", response_model=list[SepaBatchOut])
async def sepa_batches(
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[SepaBatchOut]:
    rows = await session.execute(select(SepaBatch).order_by(SepaBatch.built_on.desc()).limit(limit))
    return [SepaBatchOut(**b.model_dump()) for b in rows.scalars()]


@router.get("/v1/sepa/batches/{batch_id}.xml", response_class=FileResponse)
async def sepa_batch_file(
    batch_id: str, session: SessionDep, principal: Annotated[Principal, Depends(FINANCE)]
) -> FileResponse:
    """The pain.008.001.08 file exactly as built."""
    batch = await session.get(SepaBatch, batch_id)
    if batch is None:
        raise not_found("SEPA batch")
    return FileResponse(Path(batch.path), media_type="application/xml", filename=f"{batch_id}.xml")


class StatementOut(BaseModel):
    statement_id: str
    kind: str
    new_lines: int
    booked: int
    unmatched: int


@router.post(
    "/v1/bank-statements",
    response_model=StatementOut,
    openapi_extra={"requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
async def post_bank_statement(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
) -> StatementOut:
    """Import a camt.053 or camt.054 file (the raw XML as the body). Importing the same
    statement again books nothing twice."""
    content = await request.body()
    try:
        async with session.begin():
            statement, new_lines, booked = await import_statement(session, content, principal.actor)
            unmatched = await count_unmatched(session, statement.id)
    except CamtError as error:
        raise FieldError(("file",), str(error)).to_http() from None
    await deliver_bookings(
        request.app.state.temporal, request.app.state.settings.temporal_task_queue, booked,
        request.app.state.session_factory,
    )  # fmt: skip
    return StatementOut(
        statement_id=statement.id, kind=statement.kind, new_lines=new_lines,
        booked=len(booked), unmatched=unmatched,
    )  # fmt: skip


class BankLineOut(BaseModel):
    id: int
    statement_id: str
    entry_ref: str
    amount_cents: int
    booking_date: date
    end_to_end_id: str | None
    remittance: str | None
    counterparty_iban: str | None
    counterparty_name: str | None
    return_reason: str | None
    fee_cents: int
    status: str
    invoice_number: str | None
    matched_by: str | None
    assigned_by: str | None
    assigned_at: datetime | None
    assignment_reason: str | None


@router.get("/v1/bank-lines", response_model=list[BankLineOut])
async def bank_lines(
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
    status: Annotated[str, Query(pattern="^(unmatched|matched)$")] = "unmatched",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[BankLineOut]:
    rows = await session.execute(
        select(BankLine).where(BankLine.status == status).order_by(BankLine.id).limit(limit)
    )
    return [BankLineOut(**line.model_dump()) for line in rows.scalars()]


class AssignmentIn(BaseModel):
    invoice_number: str = Field(pattern=r"^RE-\d{4}-\d{7}$")
    reason: str = Field(min_length=3, max_length=500)


@router.post("/v1/bank-lines/{line_id}/assignment", response_model=BankLineOut)
async def assign_bank_line(
    line_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    body: AssignmentIn,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
) -> BankLineOut:
    """Book an unmatched line on an invoice by hand; who, when and why are recorded."""
    async with session.begin():
        line = await session.get(BankLine, line_id, with_for_update=True)
        if line is None:
            raise not_found("bank line")
        if line.status != "unmatched":
            raise conflict(f"line {line_id} is {line.status} already")
        if await session.get(Receivable, body.invoice_number) is None:
            raise FieldError(("invoice_number",), "no open receivable with this number").to_http()
        line.assignment_reason = body.reason
        booked = await book_line(session, line, body.invoice_number, "manual", principal.actor)
        out = BankLineOut(**line.model_dump())
    await deliver_bookings(
        request.app.state.temporal,
        request.app.state.settings.temporal_task_queue,
        [booked] if booked else [],
        request.app.state.session_factory,
    )
    return out


class DisputeIn(BaseModel):
    disputed: bool
    reason: str = Field(min_length=3, max_length=500)


@router.post("/v1/invoices/{number}/dispute")
async def dispute_invoice(
    number: str,
    body: DisputeIn,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.SUPPORT, Role.FINANCE))],
) -> dict[str, Any]:
    """A disputed invoice pauses its dunning ladder until the dispute is lifted. An invoice
    whose collection has not started needs no message: its workflow reads the flag before
    each step (db/collection_starts.py)."""
    async with session.begin():
        receivable = await session.get(Receivable, number, with_for_update=True)
        if receivable is None:
            raise not_found("receivable")
        receivable.disputed = body.disputed
    handle = request.app.state.temporal.get_workflow_handle_for(
        InvoiceWorkflow.run, invoice_workflow_id(number)
    )
    try:
        await handle.signal(
            InvoiceWorkflow.dispute,
            DisputeRequest(disputed=body.disputed, reason=body.reason, by=principal.actor),
        )
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise
    return {"invoice_number": number, "disputed": body.disputed}


@router.get("/v1/collections", response_model=None)
async def collections(
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    handed_over_from: Annotated[date | None, Query(description="first day, inclusive")] = None,
    handed_over_to: Annotated[date | None, Query(description="last day, inclusive")] = None,
) -> Any:
    """Claims handed over to collection, with the data set the agency needs (§13a RDG); a
    period (e.g. yesterday's) keeps the export to what is new rather than every case ever."""
    query = select(CollectionCase).order_by(CollectionCase.handed_over_on)
    if handed_over_from is not None:
        query = query.where(CollectionCase.handed_over_on >= handed_over_from)
    if handed_over_to is not None:
        query = query.where(CollectionCase.handed_over_on <= handed_over_to)
    cases = (await session.execute(query)).scalars().all()
    if format == "json":
        return [
            {"invoice_number": c.invoice_number, "handed_over_on": c.handed_over_on, **c.data}
            for c in cases
        ]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["invoice_number", "handed_over_on", "customer_number", "debtor", "kind",
                     "address", "email", "invoice_date", "due_date", "default_since",
                     "gross_cents", "open_cents", "interest_cents", "fees_cents",
                     "flat_fee_cents", "disputed"])  # fmt: skip
    for c in cases:
        d = c.data
        writer.writerow([
            c.invoice_number, c.handed_over_on, d["customer_number"],
            d["debtor"]["company"] or d["debtor"]["name"], d["debtor"]["kind"],
            d["debtor"]["address"], d["debtor"]["email"], d["claim"]["invoice_date"],
            d["claim"]["due_date"], d["claim"]["default_since"], d["claim"]["gross_cents"],
            d["claim"]["open_cents"], d["interest"]["cents"], d["fees_cents"],
            d["flat_fee_cents"], d["disputed"],
        ])  # fmt: skip
    return Response(out.getvalue(), media_type="text/csv")
