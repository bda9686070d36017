"""A service that goes down is a 503 with Retry-After naming it, never a 500; the CRM's
repeat with the same Idempotency-Key, once the service is back, does the work once.

The outages are real from the API's side: its connections to the real Postgres or the real
Temporal server run through a proxy that the test cuts (open connections reset, new ones
refused) and restores, as a restart or a network fault would."""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RetryConfig

from api import cancellations, credit_note_starts
from api.idempotency import (
    STALE_AFTER,
    Owned,
    Refused,
    Settlement,
    Stored,
    _settle_if_possible,
    claim,
    digest,
    settle,
    settle_left_over,
)
from api.main import create_app
from api.outages import RETRY_AFTER_SECONDS
from api.relays import relay_forever
from api.routes import contracts as contract_routes
from api.workflow_starts import START_WAIT, start_pending
from cli import DEMO_CATALOG
from config import Settings
from db.catalog import load_catalog, read_catalog_file
from db.driver import driver_connection
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import (
    BookingNotice,
    CancellationRequest,
    Contract,
    ContractVersion,
    CreditNoteStart,
    IdempotentRequest,
    Invoice,
    Payment,
    SepaDebit,
    WorkflowStart,
)
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port
from devstack.smtp_sink import MailSink
from domain.berlin_time import berlin_date, berlin_today
from outages import DATABASE, TEMPORAL
from temporal_client import DATA_CONVERTER, connect, relay_bookings
from tests.e2e.test_collection import (
    backlog_now,
    collection_input,
    debit_of,
    import_file,
    issued,
    paid_then_returned_am04,
    pending_start,
    set_collection_input,
)
from tests.e2e.test_idempotency_keys import _contract
from tests.factories import consumer_body, contract_body, create_customer
from tests.helpers import auth, eventually, relay_state, sent_mails
from tests.outage import Outage, proxied
from worker import running_worker
from workflows.contract import ContractWorkflow
from workflows.models import ContractStateView

pytestmark = pytest.mark.usefixtures("catalog")
Factory = async_sessionmaker[AsyncSession]


@asynccontextmanager
async def api_of(settings: Settings, temporal: Client) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, temporal_client=temporal)
    async with app.router.lifespan_context(app):
        # a 500 reaches the test as a response, as it would reach the CRM
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://faktura") as client:
            yield client


def assert_unavailable(response: httpx.Response, service: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["detail"].startswith(f"{service} is unavailable")


@asynccontextmanager
async def database_behind(
    link: Outage, settings: Settings, temporal: Client
) -> AsyncIterator[httpx.AsyncClient]:
    url = make_url(settings.database_url).set(host="127.0.0.1", port=link.port, query={})
    through_link = settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False)}
    )
    async with api_of(through_link, temporal) as api:
        yield api


PLAN_CHANGE = {"items": [{"product_code": "hosting-l-monthly", "domain": "key.de"}]}


async def changed_once(
    api: httpx.AsyncClient, contract_id: str, keyed: dict[str, str], factory: Factory
) -> None:
    """The repeat with the first request's key: 200, the same answer again, and one change
    in all (the contract's first version and the change's)."""
    path = f"/v1/contracts/{contract_id}/changes"
    changed = await api.post(path, json=PLAN_CHANGE, headers=keyed)
    assert changed.status_code == 200, changed.text
    again = await api.post(path, json=PLAN_CHANGE, headers=keyed)
    assert (again.status_code, again.json()) == (200, changed.json())
    async with factory() as session:
        versions = select(func.count()).where(ContractVersion.contract_id == uuid.UUID(contract_id))
        assert await session.scalar(versions) == 2


@asynccontextmanager
async def temporal_never_reached(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API started while Temporal was down: its lazy client has not connected yet."""
    dead = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with api_of(dead, await connect(dead, lazy=True)) as api:
        yield api


async def test_the_database_down_is_a_503_and_the_repeat_creates_the_contract_once(
    settings: Settings,
    postgres: EmbeddedPostgres,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    async with (
        proxied("127.0.0.1", postgres.port) as link,
        database_behind(link, settings, temporal_env.client) as api,
    ):
        customer = await create_customer(api, consumer_body())
        body = contract_body(customer["id"])
        keyed = {**auth("crm"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
        await link.cut()
        # the key's claim, the route's own statements, an ORM read: each finds it down
        assert_unavailable(await api.post("/v1/contracts", json=body, headers=keyed), DATABASE)
        assert_unavailable(
            await api.post("/v1/contracts", json=body, headers=auth("crm")), DATABASE
        )
        read = await api.get(f"/v1/customers/{customer['id']}", headers=auth("crm"))
        assert_unavailable(read, DATABASE)
        await link.restore()
        created = await api.post("/v1/contracts", json=body, headers=keyed)
        assert created.status_code == 201, created.text
        again = await api.post("/v1/contracts", json=body, headers=keyed)
        assert (again.status_code, again.json()) == (201, created.json())
    async with session_factory() as session:
        count = select(func.count()).where(Contract.crm_reference == body["crm_reference"])
        assert await session.scalar(count) == 1


async def test_every_pooled_connection_lost_in_a_restart_costs_one_request_at_most(
    settings: Settings, postgres: EmbeddedPostgres, temporal_env: Any
) -> None:
    """A restart drops every connection the pool holds (the API keeps ``db_pool_size``
    open); after it, requests must not meet the dead ones one by one."""
    async with (
        proxied("127.0.0.1", postgres.port) as link,
        database_behind(link, settings, temporal_env.client) as api,
    ):
        customer = await create_customer(api, consumer_body())
        await link.cut()
        await link.restore()
        answers = [
            (await api.post("/v1/contracts", json=contract_body(customer["id"]),
                            headers={**auth("crm"), "Idempotency-Key": f"k-{n}-{uuid.uuid4()}"}))
            for n in range(settings.db_pool_size + 5)
        ]  # fmt: skip
    failed = [answer.status_code for answer in answers if answer.status_code != 201]
    assert failed in ([], [503]), failed


async def test_temporal_down_is_a_503_and_the_repeat_changes_the_plan_once(
    settings: Settings,
    api: httpx.AsyncClient,
    worker: object,
    session_factory: Factory,
) -> None:
    contract = await _contract(api)
    host, port = settings.temporal_address.rsplit(":", 1)
    async with proxied(host, int(port)) as link:
        through_link = settings.model_copy(update={"temporal_address": f"127.0.0.1:{link.port}"})
        # fewer retries than the default's ~10 s before the client gives up, to keep it short
        temporal = await Client.connect(
            through_link.temporal_address, data_converter=DATA_CONVERTER, lazy=True,
            retry_config=RetryConfig(max_retries=1),
        )  # fmt: skip
        async with api_of(through_link, temporal) as cut_off:
            path = f"/v1/contracts/{contract['id']}/changes"
            keyed = {**auth("crm"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
            await link.cut()
            down = await cut_off.post(path, json=PLAN_CHANGE, headers=keyed)
            assert_unavailable(down, TEMPORAL)
            state = await cut_off.get(f"/v1/contracts/{contract['id']}/state", headers=auth("crm"))
            assert_unavailable(state, TEMPORAL)
            await link.restore()
            await changed_once(cut_off, contract["id"], keyed, session_factory)


async def test_a_workflow_without_its_worker_is_a_503_and_the_repeat_changes_once(
    settings: Settings,
    api: httpx.AsyncClient,
    temporal_env: Any,
    session_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deploy or a crash of the worker: the update would wait for ever, the query ~30 s.
    Both answer 503 after the wait; the repeat, with the worker back, makes the change once
    (the update the first request left with the server and the repeat are one)."""
    monkeypatch.setattr(contract_routes, "WORKFLOW_WAIT", timedelta(seconds=2))
    async with running_worker(settings, temporal_env.client):
        contract = await _contract(api)
    path = f"/v1/contracts/{contract['id']}/changes"
    keyed = {**auth("crm"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    for unanswered in (
        await api.post(path, json=PLAN_CHANGE, headers=keyed),
        await api.get(f"/v1/contracts/{contract['id']}/state", headers=auth("crm")),
    ):
        assert unanswered.status_code == 503, unanswered.text
        assert unanswered.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert "did not answer within 2 s" in unanswered.json()["detail"]
    async with running_worker(settings, temporal_env.client):
        await changed_once(api, contract["id"], keyed, session_factory)


async def cancellation_recorded(temporal_env: Any, contract_id: str) -> ContractStateView:
    """The contract's workflow state once it holds a cancellation (at most 30 s)."""
    handle = temporal_env.client.get_workflow_handle_for(
        ContractWorkflow.run, f"contract-{contract_id}"
    )
    return await eventually(
        lambda: handle.query(ContractWorkflow.state), lambda s: s.cancellation is not None, 30
    )


async def version_reasons(factory: Factory, contract_id: str) -> list[str]:
    """Why each of the contract's versions was recorded, sorted."""
    async with factory() as session:
        reasons = await session.scalars(
            select(ContractVersion.reason).where(
                ContractVersion.contract_id == uuid.UUID(contract_id)
            )
        )
        return sorted(reasons)


def one_month_after(day: date) -> date:
    """§188 BGB: the same day a month later, or the month's last day if it has none."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def test_a_cancellation_while_the_worker_is_down_counts_from_its_arrival(
    settings: Settings,
    api: httpx.AsyncClient,
    temporal_env: Any,
    session_factory: Factory,
    mail_sink: MailSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """§312k BGB: the receipt time sets the end. Without its worker the request gets 202 with
    the receipt at once; the workflow, back with its worker, records the cancellation as
    received then (not when it handled it), once, though the server also held the update."""
    monkeypatch.setattr(contract_routes, "WORKFLOW_WAIT", timedelta(seconds=2))
    customer = await create_customer(api, consumer_body())
    body = contract_body(
        customer["id"],
        start_date=(berlin_today() - timedelta(days=100)).isoformat(),  # past its minimum term
        items=[{"product_code": "hosting-m-monthly", "domain": "kuendigung.de"}],
    )
    async with running_worker(settings, temporal_env.client):
        contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()
        handle = temporal_env.client.get_workflow_handle_for(
            ContractWorkflow.run, f"contract-{contract['id']}"
        )
        await eventually(
            lambda: handle.query(ContractWorkflow.state), lambda s: s.periods_billed >= 4, 30
        )
    path = f"/v1/contracts/{contract['id']}/cancellation"
    keyed = {**auth("crm"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    sent_at = datetime.now(UTC)
    received = await api.post(path, json={"kind": "ordinary"}, headers=keyed)
    assert received.status_code == 202, received.text
    receipt = received.json()
    received_at = datetime.fromisoformat(receipt["received_at"])
    assert sent_at <= received_at <= sent_at + timedelta(seconds=1)
    assert receipt["end_date"] is None
    assert "Vertragsende bestätigen wir Ihnen gesondert" in receipt["confirmation"]
    again = await api.post(path, json={"kind": "ordinary"}, headers=keyed)
    assert (again.status_code, again.json()) == (202, receipt)

    await asyncio.sleep(1.5)  # handled noticeably later than received
    msgid = f"<cancellation.{contract['id']}@"
    async with running_worker(settings, temporal_env.client):
        view = await cancellation_recorded(temporal_env, contract["id"])
        mails = await eventually(
            lambda: asyncio.to_thread(sent_mails, mail_sink, msgid), lambda m: len(m) > 0, 30
        )
    confirmation = view.cancellation
    assert confirmation.received_at == received_at
    assert confirmation.end_date == one_month_after(berlin_date(received_at))
    assert await version_reasons(session_factory, contract["id"]) == ["cancellation", "created"]
    assert [r for r in view.rejected_requests if r.kind == "cancellation"] == []
    # the confirmation with the end follows by e-mail, once, with the receipt in German time
    assert len(mails) == 1
    text = mails[0].get_body(("plain",)).get_content()
    local = received_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"Kündigung am {local:%d.%m.%Y um %H:%M} Uhr" in text
    assert f"endet mit Ablauf des {confirmation.end_date:%d.%m.%Y}" in text
    # and support finds the receipt (the proof) and the confirmation's delivery in the history
    history = await api.get(f"/v1/contracts/{contract['id']}/history", headers=auth("support"))
    record = history.json()["cancellation"]
    assert datetime.fromisoformat(record["received_at"]) == received_at
    assert record["end_date"] == confirmation.end_date.isoformat()
    assert record["kind"] == "ordinary" and record["requested_by"].startswith("crm:")
    assert record["confirmation_status"] == "sent" and record["confirmation_sent_at"]


async def test_a_cancellation_sent_before_the_contract_ever_ran_waits_for_it(
    settings: Settings,
    api: httpx.AsyncClient,
    temporal_env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Created and cancelled while the worker is down: the workflow's first task meets the
    cancellation's signal before the contract is loaded. The signal waits for the load (a
    caller cannot retry a signal), it is not refused as "not loaded yet"."""
    monkeypatch.setattr(contract_routes, "WORKFLOW_WAIT", timedelta(seconds=2))
    customer = await create_customer(api, consumer_body())
    body = contract_body(
        customer["id"],
        start_date=berlin_today().isoformat(),
        items=[{"product_code": "hosting-m-monthly", "domain": "sofort-weg.de"}],
    )
    created = await api.post("/v1/contracts", json=body, headers=auth("crm"))
    assert created.status_code == 201, created.text
    contract = created.json()
    path = f"/v1/contracts/{contract['id']}/cancellation"
    received = await api.post(path, json={"kind": "ordinary"}, headers=auth("crm"))
    assert received.status_code == 202, received.text
    handle = temporal_env.client.get_workflow_handle_for(
        ContractWorkflow.run, f"contract-{contract['id']}"
    )
    async with running_worker(settings, temporal_env.client):
        view = await eventually(
            lambda: handle.query(ContractWorkflow.state),
            lambda s: s.cancellation is not None or bool(s.rejected_requests),
            30,
        )
    assert view.rejected_requests == []
    assert view.cancellation is not None
    assert view.cancellation.received_at == datetime.fromisoformat(received.json()["received_at"])


async def test_an_api_that_never_reached_temporal_answers_503_and_still_creates(
    settings: Settings,
    api: httpx.AsyncClient,
    worker: object,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    """Started while Temporal was down (its client is lazy): a change is a 503, a create is
    kept with its start waiting in the outbox."""
    contract = await _contract(api)
    async with temporal_never_reached(settings) as cut_off:
        path = f"/v1/contracts/{contract['id']}/changes"
        down = await cut_off.post(path, json=PLAN_CHANGE, headers=auth("crm"))
        assert_unavailable(down, TEMPORAL)
        body = contract_body(contract["customer_id"])
        created = await cut_off.post("/v1/contracts", json=body, headers=auth("crm"))
        assert created.status_code == 201, created.text
    # until the relay has started its workflow, a change or a cancellation is a 503 to
    # repeat (not a 409: nothing is wrong with it), and changes nothing
    new = f"/v1/contracts/{created.json()['id']}"
    cancellation = f"{new}/cancellation"
    for route, change in ((cancellation, {"kind": "ordinary"}), (f"{new}/changes", PLAN_CHANGE)):
        early = await api.post(route, json=change, headers=auth("crm"))
        assert early.status_code == 503, early.text
        assert early.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert "has not started yet" in early.json()["detail"]
    # the relay starts it (now, rather than some later test's app on its own task queue)
    await started_by_the_relay(
        uuid.UUID(created.json()["id"]), settings, temporal_env, session_factory
    )
    cancelled = await api.post(cancellation, json={"kind": "ordinary"}, headers=auth("crm"))
    assert cancelled.status_code == 200, cancelled.text


async def test_a_create_leaves_a_start_temporal_does_not_answer_to_the_relay(
    settings: Settings,
    api: httpx.AsyncClient,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    """Temporal gone after the client connected: the client would retry for ~10 s. The
    create answers after START_WAIT instead; the relay starts the workflow once it is back."""
    customer = await create_customer(api, consumer_body())
    host, port = settings.temporal_address.rsplit(":", 1)
    async with proxied(host, int(port)) as link:
        through_link = settings.model_copy(update={"temporal_address": f"127.0.0.1:{link.port}"})
        async with api_of(through_link, await connect(through_link)) as cut_off:
            await link.cut()
            body = contract_body(customer["id"])
            created = await cut_off.post("/v1/contracts", json=body, headers=auth("crm"))
            assert created.status_code == 201, created.text
    error = await started_by_the_relay(
        uuid.UUID(created.json()["id"]), settings, temporal_env, session_factory
    )
    assert error == f"TimeoutError: not started within {START_WAIT.seconds} s"


async def started_by_the_relay(
    contract_id: uuid.UUID, settings: Settings, temporal_env: Any, factory: Factory
) -> str | None:
    """The outbox row of a create whose start was deferred: the relay starts it. Returns
    why the create's own start failed."""
    async with factory() as session:
        outbox = await session.get(WorkflowStart, f"contract-{contract_id}")
        assert outbox is not None and outbox.started_at is None
    relay = relay_state(factory, temporal_env.client, settings)
    assert await start_pending(relay, contract_ids=[contract_id]) == 1
    await temporal_env.client.get_workflow_handle(f"contract-{contract_id}").describe()
    return outbox.last_error


async def test_a_return_booked_while_temporal_is_down_reaches_its_invoice_through_the_relay(
    settings: Settings,
    api: httpx.AsyncClient,
    worker: object,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    """The import commits its bookings, then tells the invoices' workflows. With Temporal
    down the return debit could not be told; it must not be lost (nothing would present
    the debit again): the relay tells it once Temporal answers."""
    number = (await issued(api, await create_customer(api)))["number"]
    debit = await eventually(lambda: debit_of(session_factory, number), lambda d: d is not None, 30)
    assert debit is not None
    async with temporal_never_reached(settings) as cut_off:
        imported = await import_file(cut_off, paid_then_returned_am04(number, debit))
        assert imported.status_code == 200, imported.text
        assert imported.json()["booked"] == 2

    async def delivered() -> dict[str, bool]:
        async with session_factory() as session:
            rows = await session.execute(
                select(Payment.kind, BookingNotice.booking_key)
                .outerjoin(BookingNotice, BookingNotice.booking_key == Payment.booking_key)
                .where(Payment.invoice_number == number)
            )
            return {kind: notice is None for kind, notice in rows}

    # the payment needed no message (its collection has not started); the return did
    assert await delivered() == {"debit": True, "return": False}
    assert (await pending_start(session_factory, number)).state == "pending"
    relay = (temporal_env.client, settings.temporal_task_queue, session_factory)
    assert await relay_bookings(*relay, older_than=timedelta(0)) == 1
    second = await eventually(
        lambda: debit_of(session_factory, number, 2), lambda d: d is not None, 30
    )
    assert second is not None and second.end_to_end_id == f"{number}-2"  # presented again
    assert await delivered() == {"debit": True, "return": True}
    assert await relay_bookings(*relay, older_than=timedelta(0)) == 0


async def first_debit(session_factory: Factory, number: str) -> SepaDebit:
    debit = await eventually(lambda: debit_of(session_factory, number), bool, 30)
    assert debit is not None
    return debit


async def notice_of_return(session_factory: Factory, number: str) -> BookingNotice | None:
    async with session_factory() as session:
        return (
            await session.execute(
                select(BookingNotice)
                .join(Payment, Payment.booking_key == BookingNotice.booking_key)
                .where(Payment.invoice_number == number, Payment.kind == "return")
            )
        ).scalar_one_or_none()


async def test_a_booking_that_cannot_be_told_does_not_hold_up_the_others(
    settings: Settings,
    api: httpx.AsyncClient,
    worker: object,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    """Two returns wait for the relay; the first cannot be told for a reason of its own
    (its stored collection input lacks what this version needs). The relay notes it and
    tells the second; once the input is repaired the first is told too."""
    invoices = []
    for _ in range(2):
        number = (await issued(api, await create_customer(api)))["number"]
        invoices.append((number, await first_debit(session_factory, number)))
    async with temporal_never_reached(settings) as cut_off:
        for number, debit in invoices:
            imported = await import_file(cut_off, paid_then_returned_am04(number, debit))
            assert imported.status_code == 200, imported.text
    (broken, _), (healthy, _) = invoices
    stored = await collection_input(session_factory, broken)
    await set_collection_input(session_factory, broken, {**stored, "handed_over": None})
    relay = (temporal_env.client, settings.temporal_task_queue, session_factory)
    waiting = await backlog_now(session_factory)
    assert await relay_bookings(*relay, older_than=timedelta(0)) == 1
    assert await eventually(lambda: debit_of(session_factory, healthy, 2), bool, 30)
    notice = await notice_of_return(session_factory, broken)
    assert notice is not None and notice.attempts == 1
    assert notice.last_error is not None and notice.last_error.startswith("ValueError")
    # what /healthz shows a monitor: one booking less waits, one more has failed
    after = await backlog_now(session_factory)
    assert after.bank_bookings == waiting.bank_bookings - 1
    assert after.failed_before == waiting.failed_before + 1

    await set_collection_input(session_factory, broken, stored)
    assert await relay_bookings(*relay, older_than=timedelta(0)) == 1
    assert await eventually(lambda: debit_of(session_factory, broken, 2), bool, 30)
    assert await notice_of_return(session_factory, broken) is None


async def test_a_credit_note_issued_while_temporal_is_down_is_sent_by_the_relay(
    settings: Settings,
    api: httpx.AsyncClient,
    worker: object,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    """The credit note commits with its outbox row; its workflow (documents, e-mail,
    booking) cannot start. The note is issued all the same (201), and the relay starts the
    workflow once Temporal answers: no repeat of the request is needed, and none issues a
    second note."""
    number = (await issued(api, await create_customer(api)))["number"]
    path = f"/v1/invoices/{number}/credit-notes"
    keyed = {**auth("finance"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    async with temporal_never_reached(settings) as cut_off:
        down = await cut_off.post(path, json={"reason": "Kulanz"}, headers=keyed)
    assert down.status_code == 201, down.text
    note = down.json()["number"]
    async with session_factory() as session:
        waiting = await session.get(CreditNoteStart, note)
        assert waiting is not None and waiting.attempts == 1
        assert waiting.last_error is not None and "Failed client connect" in waiting.last_error

    state = relay_state(session_factory, temporal_env.client, settings)
    assert await credit_note_starts.start_left_over(state, older_than=timedelta(0)) == 1
    handle = temporal_env.client.get_workflow_handle(f"invoice-{note}")

    async def done() -> bool:
        return (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED

    assert await eventually(done, bool, 30)
    async with session_factory() as session:
        assert await session.get(CreditNoteStart, note) is None
    assert await credit_note_starts.start_left_over(state, older_than=timedelta(0)) == 0
    repeated = await api.post(path, json={"reason": "Kulanz"}, headers=keyed)
    assert (repeated.status_code, repeated.json()["number"]) == (201, note)  # the first answer
    async with session_factory() as session:
        notes = select(func.count()).where(Invoice.preceding_number == number)
        assert await session.scalar(notes) == 1


async def test_a_cancellation_while_temporal_is_down_is_handed_over_by_the_relay(
    settings: Settings,
    api: httpx.AsyncClient,
    worker: object,
    temporal_env: Any,
    session_factory: Factory,
) -> None:
    """Temporal out of reach: the cancellation is kept with its receipt time and answered
    202. The relay hands it over once Temporal answers, and the workflow records it as
    received at its first arrival (§312k BGB), once, though the CRM repeats it."""
    contract = await _contract(api)
    path = f"/v1/contracts/{contract['id']}/cancellation"
    key = f"k-{uuid.uuid4()}"
    keyed = {**auth("crm"), "Idempotency-Key": key}
    async with temporal_never_reached(settings) as cut_off:
        down = await cut_off.post(path, json={"kind": "ordinary"}, headers=keyed)
    assert down.status_code == 202, down.text
    received_at = datetime.fromisoformat(down.json()["received_at"])
    assert down.json()["end_date"] is None
    async with session_factory() as session:
        kept = await session.get(CancellationRequest, f"cancel:{key}")
        assert kept is not None and kept.request["received_at"] == down.json()["received_at"]
        assert (await backlog_now(session_factory)).cancellations >= 1

    await asyncio.sleep(1.5)  # handed over noticeably later than received
    state = relay_state(session_factory, temporal_env.client, settings)
    assert await cancellations.deliver_left_over(state, older_than=timedelta(0)) >= 1
    view = await cancellation_recorded(temporal_env, contract["id"])
    assert view.cancellation is not None and view.cancellation.received_at == received_at
    async with session_factory() as session:
        assert await session.get(CancellationRequest, f"cancel:{key}") is None
    repeated = await api.post(path, json={"kind": "ordinary"}, headers=keyed)
    assert (repeated.status_code, repeated.json()) == (202, down.json())  # the first answer
    assert await version_reasons(session_factory, contract["id"]) == ["cancellation", "created"]


async def test_a_key_the_outage_left_claimed_is_settled_once_the_database_is_back(
    session_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer has gone out, and the database is gone: the key cannot be settled. That
    is logged, not raised, and the API's relay settles it once the database answers, so
    the repeat gets the first answer instead of a 409 until the claim goes stale."""
    scope, key, fingerprint = digest(b"POST /v1/contracts"), f"k-{uuid.uuid4()}", digest(b"{}")
    owned = await claim(session_factory, scope, key, fingerprint)
    assert isinstance(owned, Owned)
    answer = Stored(201, "application/json", b'{"id": "first"}')
    left: list[Settlement] = []
    gone = make_engine(f"postgresql+asyncpg://faktura@127.0.0.1:{free_port()}/gone", 1)
    try:
        await _settle_if_possible(
            make_session_factory(gone), Settlement(scope, key, owned, answer), left
        )
        assert f"Idempotency-Key {key!r}: the database is unavailable" in caplog.text
        assert await settle_left_over(make_session_factory(gone), left) == 0  # still gone
    finally:
        await gone.dispose()
    with pytest.raises(Refused, match="still being processed") as refused:
        await claim(session_factory, scope, key, fingerprint)
    assert refused.value.retry_after == RETRY_AFTER_SECONDS  # soon, not at the takeover

    assert await settle_left_over(session_factory, left) == 1
    assert left == []
    assert await claim(session_factory, scope, key, fingerprint) == answer  # the repeat


async def test_a_late_settlement_leaves_a_claim_taken_over_meanwhile_alone(
    session_factory: Factory,
) -> None:
    """A request slower than STALE_AFTER (or one whose settlement waited out an outage)
    finds its claim taken over by a repeat: the key is the repeat's now, and stays so."""
    scope, key, fingerprint = digest(b"POST /v1/contracts"), f"k-{uuid.uuid4()}", digest(b"{}")
    first = await claim(session_factory, scope, key, fingerprint)
    assert isinstance(first, Owned)
    async with driver_connection(session_factory) as db:  # the first request is stale now
        await db.execute(
            "UPDATE idempotent_request SET created_at = created_at - $3::interval"
            " WHERE scope = $1 AND key = $2",
            scope, key, STALE_AFTER,
        )  # fmt: skip
    repeat = await claim(session_factory, scope, key, fingerprint)
    assert isinstance(repeat, Owned) and repeat.claimed_at > first.claimed_at
    await settle(session_factory, Settlement(scope, key, first, None))  # would free the key
    with pytest.raises(Refused, match="still being processed"):
        await claim(session_factory, scope, key, fingerprint)
    answer = Stored(201, "application/json", b'{"id": "repeat"}')
    await settle(session_factory, Settlement(scope, key, repeat, answer))
    assert await claim(session_factory, scope, key, fingerprint) == answer


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A Postgres of this test's own, to restart without disturbing the others."""
    server = EmbeddedPostgres(tmp_path / "postgres", free_port(), fast_and_unsafe=True)
    server.start(tmp_path / "postgres.log")
    yield server
    server.stop()


async def test_postgres_shutting_down_is_a_503(
    settings: Settings, own_postgres: EmbeddedPostgres, temporal_env: Any
) -> None:
    """While Postgres shuts down (or starts up) it refuses new connections with its own
    error, "the database system is shutting down", which SQLAlchemy's adapter wraps: that is
    an outage too. A smart shutdown stays in that state while a session is open."""
    url = own_postgres.create_database("faktura")
    await asyncio.to_thread(upgrade, url)
    holding = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        assert own_postgres.process is not None
        own_postgres.process.send_signal(signal.SIGTERM)  # smart: waits for `holding`
        await asyncio.sleep(0.5)
        async with api_of(settings.model_copy(update={"database_url": url}),
                          temporal_env.client) as api:  # fmt: skip
            refused = await api.post(
                "/v1/contracts", json=contract_body(str(uuid.uuid4())),
                headers={**auth("crm"), "Idempotency-Key": f"k-{uuid.uuid4()}"},
            )  # fmt: skip
            assert_unavailable(refused, DATABASE)
    finally:
        await holding.close()
        assert own_postgres.process is not None
        await asyncio.to_thread(own_postgres.process.wait, 30)
        own_postgres.process = None  # stopped


async def test_a_postgres_restart_frees_the_key_of_the_request_it_cut_short(
    settings: Settings, own_postgres: EmbeddedPostgres, temporal_env: Any, tmp_path: Path
) -> None:
    """A request that lost the database in the middle could not free its key. Repeats of it
    must not wait for STALE_AFTER once Postgres is back: its claim predates the restart."""
    url = own_postgres.create_database("faktura")
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=1)
    async with make_session_factory(engine)() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
    try:
        async with api_of(
            settings.model_copy(update={"database_url": url}), temporal_env.client
        ) as api:
            customer = await create_customer(api, consumer_body())
            body = contract_body(customer["id"])
            content = json.dumps(body).encode()
            headers = {**auth("crm"), "Idempotency-Key": f"k-{uuid.uuid4()}",
                       "Content-Type": "application/json"}  # fmt: skip
            async with make_session_factory(engine)() as session, session.begin():
                session.add(IdempotentRequest(  # as the cut-short request left it
                    scope=digest(headers["Authorization"].encode(), b"POST", b"/v1/contracts"),
                    key=headers["Idempotency-Key"], fingerprint=digest(b"application/json", content),
                ))  # fmt: skip
            held = await api.post("/v1/contracts", content=content, headers=headers)
            assert held.status_code == 409, held.text
            await engine.dispose()
            await asyncio.to_thread(own_postgres.stop)
            stopped = await api.post("/v1/contracts", content=content, headers=headers)
            assert_unavailable(stopped, DATABASE)
            await asyncio.to_thread(own_postgres.start, tmp_path / "postgres.log")
            answers = [await api.post("/v1/contracts", content=content, headers=headers)]
            if answers[0].status_code == 503:  # it met a connection the restart dropped
                answers.append(await api.post("/v1/contracts", content=content, headers=headers))
            assert answers[-1].status_code == 201, [(a.status_code, a.text) for a in answers]
        async with make_session_factory(engine)() as session:
            count = select(func.count()).where(Contract.crm_reference == body["crm_reference"])
            assert await session.scalar(count) == 1
    finally:
        await engine.dispose()


async def test_the_relay_waits_out_an_outage_with_one_line_a_round(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Every 2 s of a long outage, the relay says what it waits for, without a traceback."""
    engine = make_engine(f"postgresql+asyncpg://faktura@127.0.0.1:{free_port()}/gone", 1)
    state = relay_state(make_session_factory(engine), None, settings)
    relay = asyncio.create_task(relay_forever(state, interval=0.05))
    try:
        await eventually(lambda: asyncio.sleep(0, len(relay_lines(caplog))), lambda n: n >= 2, 10)
    finally:
        relay.cancel()
        await engine.dispose()
    lines = relay_lines(caplog)
    assert {r.getMessage() for r in lines} == {"relay waits: the database is unavailable"}
    assert all(r.exc_info is None for r in lines)


def relay_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "faktura.relay"]
