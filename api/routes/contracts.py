"""Contracts: created by the CRM, read (as of any day, with history) by CRM and support."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal, RequireRole
from api.cancellations import signal_cancellation
from api.creation import claim_creation
from api.deps import SessionDep
from api.errors import FieldError, conflict, not_found
from api.outages import log_outage, no_answer, not_started_yet
from api.schemas import (
    CancellationIn,
    CancellationOut,
    CancellationRecordOut,
    ContractCreate,
    ContractHistoryOut,
    ContractItemIn,
    ContractItemOut,
    ContractOut,
    ContractVersionOut,
    PlanChangeIn,
    fingerprint_source,
)
from api.workflow_starts import contract_workflow_id, start_created
from config import Role
from db import cancellation_requests
from db.contracts import version_in_force
from db.driver import driver_of, driver_transaction, insert_row
from db.idempotency import fingerprint
from db.models import (
    Cancellation,
    Contract,
    ContractVersion,
    Customer,
    OutboxMessage,
    Product,
    WorkflowStart,
)
from domain.berlin_time import berlin_clock, berlin_today
from domain.calendar import add_months
from outages import TEMPORAL, unavailable_service
from workflows.contract import ContractWorkflow
from workflows.models import (
    CancellationConfirmation,
    CancellationKind,
    CancelRequest,
    ChangePlanRequest,
    ContractStateView,
    ItemRequest,
    PlanChangeResult,
)

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

READERS = (Role.CRM, Role.SUPPORT)
# How long a request waits for the contract's workflow (an update runs a database step or
# two): without a worker an update would wait for ever and a query ~30 s.
WORKFLOW_WAIT = timedelta(seconds=20)
T = TypeVar("T")


async def _check_items(
    db: asyncpg.Connection, items: list[ContractItemIn], day: date, price_list_code: str
) -> list[Product]:
    """Every item names a product orderable and priced on ``day``; domains have an orderable
    TLD. The catalog rows come in three statements however many items there are."""
    codes = sorted({item.product_code for item in items})
    tld_names = sorted({item.domain.rsplit(".", 1)[1] for item in items if item.domain})
    catalog = {
        row["code"]: Product(**row)
        for row in await db.fetch("SELECT * FROM product WHERE code = ANY($1::text[])", codes)
    }
    priced = {
        row["product_code"]
        for row in await db.fetch(
            "SELECT DISTINCT product_code FROM price_version WHERE product_code = ANY($1::text[])"
            " AND price_list_code = $2 AND valid_from <= $3",
            codes, price_list_code, day,
        )
    }  # fmt: skip
    tlds = {
        row["name"]: row["product_code"]
        for row in await db.fetch("SELECT * FROM tld WHERE name = ANY($1::text[])", tld_names)
    }
    products: list[Product] = []
    for index, item in enumerate(items):
        loc = ("items", index)
        product = catalog.get(item.product_code)
        if product is None:
            raise FieldError((*loc, "product_code"), f"unknown product {item.product_code}")
        if day < product.orderable_from or (
            product.orderable_until is not None and day >= product.orderable_until
        ):
            raise FieldError(
                (*loc, "product_code"),
                f"{product.code} is not orderable on {day.isoformat()}",
            )
        if product.code not in priced:
            raise FieldError(
                (*loc, "product_code"),
                f"{product.code} has no price in list {price_list_code} on {day.isoformat()}",
            )
        if product.requires_domain and item.domain is None:
            raise FieldError((*loc, "domain"), f"{product.code} needs a domain name")
        if product.unit == "piece" and product.kind != "addon" and item.quantity != 1:
            raise FieldError((*loc, "quantity"), f"{product.code} is ordered once per item")
        if item.domain is not None:
            tld_name = item.domain.rsplit(".", 1)[1]
            tld_product = tlds.get(tld_name)
            if tld_product is None:
                raise FieldError((*loc, "domain"), f"TLD .{tld_name} is not orderable")
            if product.kind == "domain" and tld_product != product.code:
                raise FieldError(
                    (*loc, "domain"), f".{tld_name} domains are billed by {tld_product}"
                )
        products.append(product)
    return products


def _terms(products: list[Product], start: date) -> tuple[date, str, str]:
    """The contract's terms follow its product with the longest minimum term."""
    leading = max(products, key=lambda p: p.minimum_term_months)
    return (
        add_months(start, leading.minimum_term_months),
        leading.notice_period,
        leading.renewal_period,
    )


def version_out(version: ContractVersion) -> ContractVersionOut:
    return ContractVersionOut(
        version=version.version,
        valid_from=version.valid_from,
        items=[ContractItemOut(**item) for item in version.items],
        minimum_term_end=version.minimum_term_end,
        notice_period=version.notice_period,
        renewal_period=version.renewal_period,
        end_date=version.end_date,
        reason=version.reason,
        recorded_by=version.recorded_by,
        recorded_at=version.recorded_at,
    )


def contract_view(contract: Contract, day: date, version: ContractVersion | None) -> ContractOut:
    """The answer for a contract as of ``day``, from rows already at hand."""
    return ContractOut(
        id=contract.id,
        crm_reference=contract.crm_reference,
        customer_id=contract.customer_id,
        start_date=contract.start_date,
        concluded_on=contract.concluded_on,
        status=contract.status,
        workflow_id=contract_workflow_id(contract.id),
        as_of=day,
        version=version_out(version) if version else None,
    )


def _default_day(contract: Contract) -> date:
    return max(contract.start_date, berlin_today())


async def contract_out(
    session: AsyncSession, contract: Contract, as_of: date | None = None
) -> ContractOut:
    day = as_of or _default_day(contract)
    return contract_view(contract, day, await version_in_force(session, contract.id, day))


@router.post(
    "",
    response_model=ContractOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "the same request again: the contract created first"},
        409: {"description": "the CRM reference or Idempotency-Key was used with other data"},
    },
)
async def create_contract(
    body: ContractCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.CRM))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ContractOut:
    """Record the contract and start its workflow ``contract-{id}`` (exactly once).

    The new contract's statements go through the driver (db/driver.py), since every CRM
    order passes here: ~27 -> ~9 ms of API CPU per request (docs/PERFORMANCE.md, API load)."""
    print_ = fingerprint(fingerprint_source(body))
    async with driver_transaction(request.app.state.session_factory) as db:
        got = await claim_creation(db, "contract", body.crm_reference, idempotency_key, print_)
        if got.is_new:
            contract, version = await _record_contract(db, body, got.resource_id, principal, print_)
    if not got.is_new:
        existing = await session.get(Contract, got.resource_id)
        assert existing is not None
        response.status_code = status.HTTP_200_OK
        return await contract_out(session, existing)
    # Committed: the outbox row guarantees the start even if Temporal is down right now.
    await start_created(request.app.state, contract)
    # A new contract has one version, in force from its start on.
    return contract_view(contract, _default_day(contract), version)


async def _record_contract(
    db: asyncpg.Connection,
    body: ContractCreate,
    contract_id: uuid.UUID,
    principal: Principal,
    print_: str,
) -> tuple[Contract, ContractVersion]:
    """The checked contract, its first version and its workflow's outbox row."""
    price_list_code = await db.fetchval(
        "SELECT price_list_code FROM customer WHERE id = $1", body.customer_id
    )
    if price_list_code is None:
        raise FieldError(("customer_id",), "unknown customer").to_http()
    try:
        products = await _check_items(db, body.items, body.start_date, price_list_code)
    except FieldError as error:
        raise error.to_http() from None
    minimum_term_end, notice, renewal = _terms(products, body.start_date)
    contract = Contract(
        id=contract_id,
        crm_reference=body.crm_reference,
        customer_id=body.customer_id,
        start_date=body.start_date,
        concluded_on=body.concluded_on or body.start_date,
        request_fingerprint=print_,
    )
    version = ContractVersion(
        contract_id=contract.id,
        version=1,
        valid_from=body.start_date,
        items=[item.model_dump(exclude_none=True) for item in body.items],
        minimum_term_end=minimum_term_end,
        notice_period=notice,
        renewal_period=renewal,
        reason="created",
        recorded_by=principal.actor,
    )
    await insert_row(db, contract)
    await insert_row(db, version)
    await insert_row(
        db,
        WorkflowStart(workflow_id=contract_workflow_id(contract.id), contract_id=contract.id),
    )
    return contract, version


@router.get("/{contract_id}", response_model=ContractOut)
async def get_contract(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
    as_of: Annotated[date | None, Query(description="the version in force that day")] = None,
) -> ContractOut:
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise not_found("contract")
    return await contract_out(session, contract, as_of)


@router.get("/{contract_id}/history", response_model=ContractHistoryOut)
async def get_contract_history(
    contract_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
) -> ContractHistoryOut:
    if await session.get(Contract, contract_id) is None:
        raise not_found("contract")
    rows = await session.execute(
        select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version)
    )
    return ContractHistoryOut(
        contract_id=contract_id,
        versions=[version_out(v) for v in rows.scalars()],
        cancellation=await _cancellation_record(session, contract_id),
    )


async def _cancellation_record(
    session: AsyncSession, contract_id: uuid.UUID
) -> CancellationRecordOut | None:
    cancellation = await session.get(Cancellation, contract_id)
    if cancellation is None:
        return None
    confirmation = (
        await session.execute(
            select(OutboxMessage).where(
                OutboxMessage.purpose == "cancellation",
                OutboxMessage.reference == str(contract_id),
            )
        )
    ).scalar_one_or_none()
    return CancellationRecordOut(
        kind=cancellation.kind,
        received_at=cancellation.received_at,
        end_date=cancellation.end_date,
        reason=cancellation.reason,
        requested_by=cancellation.requested_by,
        recorded_at=cancellation.recorded_at,
        confirmation_status=confirmation.status if confirmation else None,
        confirmation_sent_at=confirmation.sent_at if confirmation else None,
    )


def _handle(request: Request, contract_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return request.app.state.temporal.get_workflow_handle_for(
        ContractWorkflow.run, contract_workflow_id(contract_id)
    )


def _update_id(kind: str, idempotency_key: str | None) -> str | None:
    """The Idempotency-Key doubles as the update id: the workflow answers a repeat with the
    first outcome, and its activity records the change once (change key in the database)."""
    return f"{kind}:{idempotency_key}" if idempotency_key else None


class WorkflowLate(Exception):
    """The contract's workflow did not answer within WORKFLOW_WAIT."""


async def _within_wait(call: Awaitable[T]) -> T:
    """The workflow's answer, or WorkflowLate after WORKFLOW_WAIT (the SDK turns the
    cancelled wait for an update into an error of its own)."""
    try:
        async with asyncio.timeout(WORKFLOW_WAIT.total_seconds()):
            return await call
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise WorkflowLate from None


async def _late_is_503(answer: Awaitable[T]) -> T:
    """WorkflowLate becomes a 503 that asks for the repeat."""
    try:
        return await answer
    except WorkflowLate:
        raise no_answer(WORKFLOW_WAIT) from None


async def _answered(call: Awaitable[T]) -> T:
    """The workflow's answer, or a 503 after WORKFLOW_WAIT."""
    return await _late_is_503(_within_wait(call))


async def _asked(call: Awaitable[T]) -> T:
    """Send an update; a refusal by the workflow's validator or rules becomes 409, a late
    answer WorkflowLate."""
    try:
        return await _within_wait(call)
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        message = getattr(cause, "message", None) or str(cause or error)
        raise conflict(message) from None
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise _not_running() from None
        raise


async def _ask(call: Awaitable[T]) -> T:
    """As _asked, with a 503 for a late answer."""
    return await _late_is_503(_asked(call))


async def _started_or_503(session: AsyncSession, contract_id: uuid.UUID) -> None:
    """A 503 while the outbox still holds the workflow's start (the relay starts it), rather
    than the 409 a missing workflow gets; then no transaction stays open while the workflow
    answers."""
    pending = await session.scalar(
        select(WorkflowStart.workflow_id).where(
            WorkflowStart.workflow_id == contract_workflow_id(contract_id),
            WorkflowStart.started_at.is_(None),  # type: ignore[union-attr]
        )
    )
    await session.rollback()
    if pending is not None:
        raise not_started_yet()


def _not_running() -> HTTPException:
    return conflict("the contract's workflow is not running (not started yet or ended)")


@router.post("/{contract_id}/changes", response_model=PlanChangeResult)
async def change_contract(
    contract_id: uuid.UUID,
    body: PlanChangeIn,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> PlanChangeResult:
    """Change products or quantities: an upgrade applies now with a pro-rata charge and
    credit for the rest of the period, a downgrade at the end of the period."""
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise not_found("contract")
    customer = await session.get(Customer, contract.customer_id)
    assert customer is not None
    try:
        await _check_items(
            await driver_of(session), body.items, berlin_today(), customer.price_list_code
        )
    except FieldError as error:
        raise error.to_http() from None
    await _started_or_503(session, contract_id)
    change = ChangePlanRequest(
        items=[ItemRequest(**item.model_dump()) for item in body.items],
        requested_by=principal.actor,
    )
    return await _ask(
        _handle(request, contract_id).execute_update(
            ContractWorkflow.change_plan, change, id=_update_id("change", idempotency_key)
        )
    )


@router.post(
    "/{contract_id}/cancellation",
    response_model=CancellationOut,
    responses={
        202: {
            "model": CancellationOut,
            "description": "received while the contract's worker is down: the receipt now; "
            "the confirmation with the end date follows by e-mail (or letter) once the "
            "workflow has recorded the cancellation",
        }
    },
)
async def cancel_contract(
    contract_id: uuid.UUID,
    body: CancellationIn,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CancellationOut:
    """Cancel ordinarily (earliest end the terms allow) or extraordinarily (a given date).
    The answer is the confirmation §312k BGB requires: receipt time, contract, end date.

    The receipt time is this request's first arrival, also when the workflow handles it
    late. The request is kept in the database before the workflow is asked. If the worker
    does not answer within WORKFLOW_WAIT, it is handed to the workflow as a signal, which
    Temporal keeps; if Temporal is unavailable, the API's relay signals it later. Either
    way the answer is 202 with the receipt alone, and the confirmation follows."""
    received_at = datetime.now(UTC)
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise not_found("contract")
    crm_reference = contract.crm_reference
    await _started_or_503(session, contract_id)
    async with session.begin():  # kept first: a repeat carries the first receipt time
        cancel = await cancellation_requests.keep(
            await driver_of(session),
            contract_id,
            CancelRequest(
                kind=CancellationKind(body.kind),
                end_date=body.end_date,
                reason=body.reason,
                requested_by=principal.actor,
                request_id=_update_id("cancel", idempotency_key) or f"cancel:{uuid.uuid4()}",
                received_at=received_at,
            ),
        )
    confirmed = await _hand_over_cancellation(request, session, contract_id, cancel)
    if confirmed is None:  # received; the confirmation with the end follows
        response.status_code = status.HTTP_202_ACCEPTED
    received = confirmed.received_at if confirmed else (cancel.received_at or received_at)
    end_date = confirmed.end_date if confirmed else None
    return CancellationOut(
        contract_id=contract_id,
        crm_reference=crm_reference,
        kind=cancel.kind.value,
        received_at=received,
        end_date=end_date,
        confirmation=receipt_text(received, crm_reference, end_date, cancel.kind),
    )


async def _hand_over_cancellation(
    request: Request, session: AsyncSession, contract_id: uuid.UUID, cancel: CancelRequest
) -> CancellationConfirmation | None:
    """The workflow's confirmation, or None when the request is only received: the worker
    did not answer in time (the request went as a signal), or Temporal is unavailable (the
    relay signals it). The kept request is deleted once the workflow has it or refused it."""
    assert cancel.request_id is not None
    state = request.app.state
    try:
        confirmed = await _asked(
            _handle(request, contract_id).execute_update(
                ContractWorkflow.cancel, cancel, id=cancel.request_id
            )
        )
    except WorkflowLate:
        try:
            await signal_cancellation(state.temporal, contract_id, cancel)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                await _forget(session, cancel.request_id)
                raise _not_running() from None
            if unavailable_service(error) is None:
                raise
            return None  # the relay signals it
        confirmed = None
    except HTTPException:  # refused by the workflow: nothing to hand over any more
        await _forget(session, cancel.request_id)
        raise
    except Exception as error:
        if unavailable_service(error) is None:
            raise
        log_outage("POST", f"/v1/contracts/{contract_id}/cancellation", TEMPORAL, error)
        return None  # Temporal unavailable: the relay signals it
    await _forget(session, cancel.request_id)
    return confirmed


async def _forget(session: AsyncSession, request_id: str) -> None:
    async with session.begin():
        await cancellation_requests.forget(await driver_of(session), request_id)


def receipt_text(
    received_at: datetime,
    crm_reference: str,
    end_date: date | None,
    kind: CancellationKind = CancellationKind.ORDINARY,
) -> str:
    """The text the customer gets (German, as the contract's market), with the receipt in
    German time, as the confirmation letter gives it."""
    received = berlin_clock(received_at)
    what = "Ihres Widerrufs" if kind is CancellationKind.WITHDRAWAL else "Ihrer Kündigung"
    receipt = (
        f"Wir bestätigen den Eingang {what} am {received:%d.%m.%Y um %H:%M} Uhr "
        f"für den Vertrag {crm_reference}."
    )
    if end_date is None:
        return receipt + " Das Vertragsende bestätigen wir Ihnen gesondert."
    return receipt + f" Der Vertrag endet mit Ablauf des {end_date:%d.%m.%Y}."


@router.get("/{contract_id}/state", response_model=ContractStateView)
async def contract_state(
    contract_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(*READERS))],
) -> ContractStateView:
    """The live state of the contract's workflow (status, next billing date, dunning level),
    with the customer's payment method as the database holds it: a return debit switches
    the customer to transfer without telling each contract's workflow."""
    contract = await session.get(Contract, contract_id)
    if contract is None:
        raise not_found("contract")
    customer = await session.get(Customer, contract.customer_id)
    assert customer is not None
    payment_method = customer.payment_method
    await session.rollback()
    try:
        view = await _answered(_handle(request, contract_id).query(ContractWorkflow.state))
        return view.model_copy(update={"payment_method": payment_method})
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            raise conflict("the contract's workflow has not started yet") from None
        raise
