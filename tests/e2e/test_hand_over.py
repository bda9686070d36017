"""A booking that arrives before the contract's workflow has handed its invoice over.

The contract's workflow issues, sends and registers an invoice and then hands it over as a
pending start (workflows/hand_over.py). A bank statement booked before finds no pending
start and starts the invoice's workflow itself (signal-with-start), which then does every
step on its own: nothing may be sent, debited or started twice. No worker runs until both
have had their chance.
"""

from __future__ import annotations

import asyncio
import uuid
from email.message import Message
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.collection import CollectionActivities
from activities.contracts import ContractActivities
from activities.provisioning import RecordingProvisioner
from config import Settings
from db.models import OutboxMessage, SepaDebit
from devstack.smtp_sink import MailSink
from domain.berlin_time import berlin_today
from tests.camt_files import Entry, camt054
from tests.e2e.test_collection import import_file, invoice_status
from tests.factories import contract_body, create_customer
from tests.helpers import auth, eventually, sent_mails
from worker import running_worker
from workflows.contract import ContractWorkflow
from workflows.models import BillPeriodInput, NumberInput

pytestmark = pytest.mark.usefixtures("catalog")

FIRST = berlin_today().replace(day=1)
HOSTING = [{"product_code": "hosting-m-monthly", "domain": "vorab.de"}]
GROSS = 1998  # 9.99 hosting M + 9.99 setup, consumer list prices (gross)


async def test_a_booking_before_the_hand_over_sends_debits_and_starts_nothing_twice(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
    settings: Settings,
) -> None:
    customer = await create_customer(api)
    body = contract_body(customer["id"], start_date=FIRST.isoformat(), items=HOSTING)
    contract: dict[str, Any] = (
        await api.post("/v1/contracts", json=body, headers=auth("crm"))
    ).json()

    # The contract's first steps, as its workflow would run them: issue, open the receivable.
    steps = ActivityEnvironment()
    contracts = ContractActivities(session_factory, RecordingProvisioner(session_factory), settings)
    billed = await steps.run(
        contracts.bill_period,
        BillPeriodInput(contract_id=contract["id"], due=FIRST, issued_on=berlin_today()),
    )
    number = billed.invoice_number
    assert number is not None
    await steps.run(
        CollectionActivities(session_factory, settings).open_receivable, NumberInput(number=number)
    )

    # The customer pays before the hand-over: the booking starts the invoice's workflow.
    statement = camt054(
        f"N-{uuid.uuid4().hex[:8]}", [Entry(GROSS, berlin_today(), end_to_end_id=number)]
    )
    assert (await import_file(api, statement)).json()["booked"] == 1

    async with running_worker(settings, temporal_env.client):
        status = await eventually(
            lambda: invoice_status(temporal_env, number), lambda s: s == "paid", 30
        )
        assert status == "paid"
        handle = temporal_env.client.get_workflow_handle_for(
            ContractWorkflow.run, f"contract-{contract['id']}"
        )

        async def billed_periods() -> int:
            return (await handle.query(ContractWorkflow.state)).periods_billed

        assert await eventually(billed_periods, lambda n: n >= 1, 30) >= 1

    invoice_runs = await temporal_env.client.count_workflows(f"WorkflowId = 'invoice-{number}'")
    assert invoice_runs.count == 1
    async with session_factory() as session:
        outbox = (
            (await session.execute(select(OutboxMessage).where(OutboxMessage.reference == number)))
            .scalars()
            .all()
        )
        debits = (
            await session.execute(
                select(func.count())
                .select_from(SepaDebit)
                .where(SepaDebit.invoice_number == number)
            )
        ).scalar_one()
    assert [(row.purpose, row.status) for row in outbox] == [("invoice", "sent")]
    assert debits == 0  # paid before any debit was registered: nothing to collect
    assert len(sent_mails(mail_sink, number)) == 1


class StuckMailer:
    """An SMTP server that takes the mail but does not answer until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def send(self, message: Message) -> str:
        self.calls += 1
        await self.release.wait()
        return "250 accepted"


async def test_a_cancellation_does_not_wait_for_a_stuck_invoice_mail(
    api: httpx.AsyncClient, temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The contract issues under its lock but sends and hands over after it: an update (here
    a cancellation) is answered while the billing day's e-mail still hangs."""
    mailer = StuckMailer()
    async with running_worker(settings, temporal_env.client, mailer=mailer):
        try:
            customer = await create_customer(api)
            body = contract_body(customer["id"], start_date=FIRST.isoformat(), items=HOSTING)
            contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()

            async def calls() -> int:
                return mailer.calls

            assert await eventually(calls, lambda n: n >= 1, 30) == 1  # the mail hangs now
            answer = await asyncio.wait_for(
                api.post(f"/v1/contracts/{contract['id']}/cancellation",
                         json={"kind": "ordinary"}, headers=auth("crm")),
                timeout=25,  # a workflow task heartbeat (8 s) carries the answer
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
            assert answer.json()["contract_id"] == contract["id"]
        finally:
            mailer.release.set()
