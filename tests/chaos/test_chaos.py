"""Fault injection while a fleet is billed (issue 8): the worker is SIGKILLed three times,
the Temporal dev server (SQLite) and Postgres restart once each, and the SMTP server
refuses connections for 30 s. Afterwards nothing may be missing and nothing doubled. Then
the collection sweep starts every invoice's workflow and loses its worker half-way: each
workflow must still start exactly once. Meanwhile the CRM keeps creating contracts through
the API, and cancels every second one, repeating each request with its key until it is
answered: no 500, each contract created once, and each contract's workflow started; each
cancellation recorded once and confirmed to the customer by one e-mail (or duplicates
with the same Message-ID).

    make chaos N=1000          # FAKTURA_CHAOS_CONTRACTS, default 150 inside `make test`
"""

from __future__ import annotations

import asyncio
import collections
import email
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree
from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.main import create_app
from config import Settings
from db.engine import make_engine, make_session_factory
from db.models import (
    Cancellation,
    CollectionStart,
    Contract,
    ContractVersion,
    Invoice,
    OutboxMessage,
    SepaBatch,
    SepaDebit,
)
from devstack.fleet import build_sepa_files, seed_fleet, start_fleet
from devstack.stack import Stack
from domain.berlin_time import berlin_today
from temporal_client import connect
from tests.factories import consumer_body, contract_body
from tests.helpers import KEYS, auth, eventually
from workflows.collection_starts import CollectionStartsWorkflow
from workflows.models import CollectionStartsInput, InvoiceWorkflowInput

CONTRACTS = int(os.environ.get("FAKTURA_CHAOS_CONTRACTS", "150"))
SMTP_DOWN_SECONDS = 30
DEADLINE_SECONDS = 600 + CONTRACTS  # a generous bound: a stuck chain fails, never hangs

# `make chaos CHAOS_N=...` may take longer than the suite's per-test timeout (pyproject.toml)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(DEADLINE_SECONDS + 300)]


class Faults:
    """Injects faults one after another and keeps a table of what happened."""

    def __init__(self, stack: Stack, progress: Callable[[], Awaitable[str]]) -> None:
        self.stack = stack
        self.progress = progress
        self.rows: list[tuple[str, str, float]] = []
        self.started = time.monotonic()

    async def inject(
        self,
        name: str,
        action: Callable[[], None],
        progress: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        before = await (progress or self.progress)()
        began = time.monotonic()
        await asyncio.to_thread(action)
        self.rows.append((name, before, time.monotonic() - began))

    def table(self) -> str:
        lines = [f"{'fault':<34} {'work done when it struck':<28} {'took':>6}"]
        for name, before, took in self.rows:
            lines.append(f"{name:<34} {before:<28} {took:>5.1f}s")
        return "\n".join(lines)


async def test_billing_survives_crashes_restarts_and_a_refusing_mail_server(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "stack", workers=1)
    await asyncio.to_thread(stack.start)
    engine = make_engine(stack.postgres.url(), 5)
    factory = make_session_factory(engine)
    try:
        settings = stack.settings()
        today = berlin_today()
        fleet = await seed_fleet(factory, CONTRACTS, today)
        sepa_count = sum(1 for member in fleet if member.sepa)
        stack.start_workers()
        client = await connect(settings)
        await start_fleet(client, settings.temporal_task_queue, fleet)

        async def count(query) -> int:  # noqa: ANN001 - a select of one count
            for _ in range(30):
                try:
                    async with factory() as session:
                        return (await session.execute(query)).scalar_one()
                except Exception:  # noqa: BLE001 - Postgres may be restarting
                    await asyncio.sleep(1)
            raise AssertionError("Postgres did not come back")

        def mailed() -> Awaitable[int]:
            return count(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "sent", OutboxMessage.purpose == "invoice")
            )

        async def work_done() -> str:
            issued = await count(select(func.count()).select_from(Invoice))
            return f"{issued} issued, {await mailed()} mailed"

        faults = Faults(stack, work_done)
        crm = Crm(settings)
        crm_running = asyncio.create_task(crm.create_contracts_until_stopped())
        await asyncio.sleep(2)
        await faults.inject("SIGKILL worker (1st)", lambda: stack.kill_worker(0))
        await faults.inject("SMTP server stops", stack.stop_smtp)
        smtp_down_at = time.monotonic()
        await asyncio.sleep(4)
        await faults.inject("SIGKILL worker (2nd)", lambda: stack.kill_worker(0))
        await asyncio.sleep(4)
        await faults.inject("restart Temporal dev server", stack.restart_temporal)
        await asyncio.sleep(4)
        await faults.inject(  # down for 2 s: the CRM's requests meet it
            "restart Postgres",
            lambda: (stack.stop_postgres(), time.sleep(2), stack.start_postgres()),
        )
        await asyncio.sleep(max(0.0, SMTP_DOWN_SECONDS - (time.monotonic() - smtp_down_at)))
        await faults.inject(f"SMTP server back after {SMTP_DOWN_SECONDS} s", stack.start_smtp)
        await asyncio.sleep(3)
        await faults.inject("SIGKILL worker (3rd)", lambda: stack.kill_worker(0))
        crm.stop.set()
        crm_outcome = await crm_running

        deadline = time.monotonic() + DEADLINE_SECONDS
        debits_query = select(func.count()).select_from(SepaDebit)
        while (await mailed()) < CONTRACTS or (await count(debits_query)) < sepa_count:
            assert time.monotonic() < deadline, "the chain did not finish: something is stuck"
            await asyncio.sleep(1)

        for _ in range(2):  # twice: idempotent
            await build_sepa_files(client, factory, settings.temporal_task_queue)

        outcome = await check_outcome(stack, factory, client, CONTRACTS, sepa_count)
        outcome |= await check_crm(crm_outcome, stack, factory, client)
        outcome |= await sweep_through_a_crash(stack, faults, factory, client, CONTRACTS)
        print(
            "\n" + faults.table() + "\n\n" + "\n".join(f"{k:<34} {v}" for k, v in outcome.items())
        )
    finally:
        await engine.dispose()
        await asyncio.to_thread(stack.stop)


class Crm:
    """The CRM through the faults: one contract after another (starting in two months, so
    they bill nothing in this run), every second one cancelled, each request repeated with
    its Idempotency-Key after a 503 (or a 409 that asks to retry) until it is answered, as a
    CRM's retry policy would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(update={"api_keys_crm": [SecretStr(KEYS["crm"])]})
        self.stop = asyncio.Event()
        self.answers: collections.Counter[str] = collections.Counter()
        self.cancelled: list[str] = []  # contract ids

    async def create_contracts_until_stopped(
        self,
    ) -> tuple[list[str], collections.Counter[str], list[str]]:
        references = []
        app = create_app(self.settings)
        async with app.router.lifespan_context(app):
            # a 500 fails the run with the app's own traceback
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://faktura", timeout=60
            ) as api:
                customer = await self._send(api, "/v1/customers", consumer_body())
                cancelling: list[asyncio.Task[None]] = []
                while not self.stop.is_set():
                    start = berlin_today() + timedelta(days=60)
                    body = contract_body(customer["id"], start_date=start.isoformat())
                    contract = await self._send(api, "/v1/contracts", body)
                    references.append(body["crm_reference"])
                    if len(references) % 2 == 0:  # alongside: it may wait for the worker
                        cancelling.append(asyncio.create_task(self._cancel(api, contract["id"])))
                    await asyncio.sleep(0.5)  # a steady trickle, not a load test
                await asyncio.gather(*cancelling)
        return references, self.answers, self.cancelled

    async def _cancel(self, api: httpx.AsyncClient, contract_id: str) -> None:
        """200, or 202 with the receipt alone while the worker is down."""
        path = f"/v1/contracts/{contract_id}/cancellation"
        await self._send(api, path, {"kind": "ordinary"}, ok=(200, 202))
        self.cancelled.append(contract_id)

    async def _send(
        self, api: httpx.AsyncClient, path: str, body: dict, ok: tuple[int, ...] = (201,)
    ) -> dict:
        headers = {**auth("crm"), "Idempotency-Key": str(uuid.uuid4())}
        while True:
            answer = await api.post(path, json=body, headers=headers)
            self.answers[str(answer.status_code)] += 1
            if answer.status_code != 503 and "Retry-After" not in answer.headers:
                assert answer.status_code in ok, answer.text
                return answer.json()
            await asyncio.sleep(min(1.0, float(answer.headers["Retry-After"])))


async def check_crm(
    crm: tuple[list[str], collections.Counter[str], list[str]], stack: Stack, factory, client
) -> dict[str, object]:  # noqa: ANN001
    references, answers, cancelled = crm
    async with factory() as session:
        contracts = (
            await session.execute(
                select(Contract.crm_reference, Contract.id).where(
                    Contract.crm_reference.in_(references)
                )
            )
        ).all()
    assert sorted(reference for reference, _ in contracts) == sorted(references)
    assert answers["503"] > 0, "the CRM never met the database's restart"

    async def running(contract_id) -> bool:  # noqa: ANN001
        try:
            description = await client.get_workflow_handle(f"contract-{contract_id}").describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            return False
        return description.status == WorkflowExecutionStatus.RUNNING

    for _, contract_id in contracts:  # the outbox's relay starts what Temporal's restart held
        assert await eventually(lambda c=contract_id: running(c), bool, 60)
    return {
        "CRM: contracts created through faults": f"{len(references)}, each once, each running",
        **await check_cancellations(cancelled, stack, factory),
        "CRM: answers": ", ".join(f"{n} x {code}" for code, n in sorted(answers.items())),
    }


async def check_cancellations(cancelled: list[str], stack: Stack, factory) -> dict[str, object]:  # noqa: ANN001
    """Each cancellation recorded once, its confirmation accepted once (a duplicate only
    with the same Message-ID)."""
    assert cancelled, "the CRM cancelled nothing"
    ids = [uuid.UUID(c) for c in cancelled]

    async def confirmed() -> int:
        async with factory() as session:
            return (
                await session.execute(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.purpose == "cancellation",
                        OutboxMessage.reference.in_(cancelled),
                        OutboxMessage.status == "sent",
                    )
                )
            ).scalar_one()

    assert await eventually(confirmed, lambda n: n == len(cancelled), 120) == len(cancelled)
    async with factory() as session:
        recorded = collections.Counter(
            (
                await session.execute(
                    select(Cancellation.contract_id).where(Cancellation.contract_id.in_(ids))
                )
            ).scalars()
        )
        versions = collections.Counter(
            (
                await session.execute(
                    select(ContractVersion.contract_id).where(
                        ContractVersion.contract_id.in_(ids),
                        ContractVersion.reason == "cancellation",
                    )
                )
            ).scalars()
        )
    assert recorded == versions == dict.fromkeys(ids, 1)
    mails = mails_by_message_id(stack, "cancellation")
    assert {re.search(r"cancellation\.([\w-]+)@", m).group(1) for m in mails} == set(cancelled)
    return {
        "CRM: contracts cancelled": f"{len(cancelled)}, each recorded once, each confirmed",
        "cancellation mails, duplicates": sum(n - 1 for n in mails.values()),
    }


def mails_by_message_id(stack: Stack, purpose: str) -> collections.Counter[str]:
    """How often each Message-ID of a purpose reached the SMTP server."""
    counted: collections.Counter[str] = collections.Counter()
    for path in (stack.work / "mail").glob("*.eml"):
        message_id = email.message_from_bytes(path.read_bytes())["Message-ID"].strip()
        if message_id.startswith(f"<{purpose}."):
            counted[message_id] += 1
    return counted


async def check_outcome(
    stack: Stack, factory, client, n: int, sepa_count: int
) -> dict[str, object]:  # noqa: ANN001
    async with factory() as session:
        invoices = (await session.execute(select(Invoice.contract_id, Invoice.number))).all()
        debits = (await session.execute(select(SepaDebit.end_to_end_id, SepaDebit.batch_id))).all()
        batches = (await session.execute(select(SepaBatch.path))).scalars().all()

    # exactly one invoice per contract, numbers without gaps
    per_contract = collections.Counter(contract for contract, _ in invoices)
    assert len(per_contract) == n and set(per_contract.values()) == {1}
    serials = sorted(int(re.search(r"(\d+)$", number).group(1)) for _, number in invoices)
    assert serials == list(range(serials[0], serials[0] + n)), "invoice numbers have a gap"

    # one accepted e-mail per invoice; a duplicate must carry the same Message-ID
    by_invoice: dict[str, list[str]] = collections.defaultdict(list)
    for message_id, times in mails_by_message_id(stack, "invoice").items():
        number = re.search(r"(RE-[\w-]+)", message_id).group(1)
        by_invoice[number].extend([message_id] * times)
    assert set(by_invoice) == {number for _, number in invoices}
    for ids in by_invoice.values():
        assert len(set(ids)) == 1, f"different Message-IDs for one invoice: {ids}"
    duplicates = sum(len(ids) - 1 for ids in by_invoice.values())

    # every debit in exactly one SEPA file
    assert len(debits) == sepa_count and all(batch for _, batch in debits)
    in_files = collections.Counter()
    for path in batches:
        tree = etree.parse(path)
        for element in tree.iter("{*}EndToEndId"):
            in_files[element.text] += 1
    assert {e2e: in_files[e2e] for e2e, _ in debits} == {e2e: 1 for e2e, _ in debits}
    assert sum(in_files.values()) == sepa_count

    # no workflow failed, timed out or was terminated; none is stuck mid-chain
    for status in ("Failed", "TimedOut", "Terminated", "Canceled"):
        assert (await client.count_workflows(f"ExecutionStatus = '{status}'")).count == 0, status

    # each invoice waits for collection as one pending start at its first dunning deadline,
    # and the server carries no workflow for it (activities/collection_starts.py)
    async def pending() -> list[CollectionStart]:
        async with factory() as session:
            return list((await session.execute(select(CollectionStart))).scalars().all())

    rows = await eventually(pending, lambda r: len(r) >= n, 60)  # the hand-over's last write
    assert sorted(row.invoice_number for row in rows) == sorted(number for _, number in invoices)
    states = collections.Counter(
        (row.state, InvoiceWorkflowInput.model_validate(row.input).handed_over.status)
        for row in rows
    )
    assert states == {
        ("pending", "debit_registered"): sepa_count,
        ("pending", "delivered_email"): n - sepa_count,
    }
    started = await client.count_workflows("WorkflowType = 'InvoiceWorkflow'")
    assert started.count == 0
    return {
        "invoices (one per contract)": len(invoices),
        "numbers": f"{serials[0]}..{serials[-1]} without gaps",
        "e-mails accepted": sum(len(ids) for ids in by_invoice.values()),
        "duplicates, same Message-ID": duplicates,
        "debits, each in one pain.008": f"{len(debits)} in {len(batches)} file(s)",
        "pending collection starts": len(rows),
        "invoice workflows started": started.count,
    }


async def sweep_through_a_crash(
    stack: Stack, faults: Faults, factory, client, n: int
) -> dict[str, object]:  # noqa: ANN001
    """The collection sweep (workflows/collection_starts.py), run now for every pending row
    (nobody has paid, so each starts its invoice's workflow), loses its worker after the
    first starts and before it marks them. Its retry must start the rest and double none."""
    handle = await client.start_workflow(
        CollectionStartsWorkflow.run,
        CollectionStartsInput(until=datetime.now(UTC) + timedelta(days=400)),
        id="chaos-collection-starts",
        task_queue=stack.settings().temporal_task_queue,
    )

    async def invoice_runs() -> int:
        return (await client.count_workflows("WorkflowType = 'InvoiceWorkflow'")).count

    deadline = time.monotonic() + 60
    while await invoice_runs() == 0:
        assert time.monotonic() < deadline, "the sweep started no workflow"
        await asyncio.sleep(0.05)

    async def sweep_done() -> str:
        return f"{await invoice_runs()} of {n} started"

    await faults.inject("SIGKILL worker during the sweep", lambda: stack.kill_worker(0), sweep_done)
    result = await asyncio.wait_for(handle.result(), DEADLINE_SECONDS)

    attempts = [
        event.activity_task_started_event_attributes.attempt
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert attempts and attempts[-1] >= 2, f"the crash missed the sweep's activity: {attempts}"

    async with factory() as session:
        states = collections.Counter(
            (await session.execute(select(CollectionStart.state))).scalars().all()
        )
    assert states == {"started": n}
    runs = await eventually(invoice_runs, lambda count: count >= n, 30)
    assert runs == n, "an invoice's workflow started twice, or not at all"
    for status in ("Failed", "TimedOut", "Terminated", "Canceled"):
        assert (await client.count_workflows(f"ExecutionStatus = '{status}'")).count == 0, status
    return {
        "sweep's activity attempts": attempts[-1],
        "started by the sweep's last attempt": result.started,
        "invoice workflows after the sweep": runs,
    }
