"""The steps right after billing take the invoice this process just issued.

The contract's workflow runs bill, render, open the receivable and register the debit one
after the other in one worker process (activities/recent.py). The later steps must not load
the invoice again, and a process that did not issue it must come to the same result.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.collection import CollectionActivities
from activities.contracts import ContractActivities
from activities.invoicing import InvoiceActivities
from activities.provisioning import RecordingProvisioner
from activities.recent import Recent
from config import Settings
from db.invoices import IssuedInvoice
from db.models import Receivable, SepaDebit
from domain.berlin_time import berlin_today
from tests.factories import contract_body, create_customer
from tests.helpers import auth
from workflows.models import BillPeriodInput, NumberInput, RenderInvoiceInput, RepresentInput

pytestmark = pytest.mark.usefixtures("catalog")

FIRST = berlin_today().replace(day=1)
HOSTING = [{"product_code": "hosting-m-monthly", "domain": "recent.de"}]
GROSS = 999 + 999  # hosting M and its setup fee, consumer list prices (gross)


@contextmanager
def statements(session_factory: async_sessionmaker[AsyncSession]) -> Iterator[list[str]]:
    """Every SQL statement the factory's engine sends while the block runs."""
    engine = session_factory.kw["bind"].sync_engine
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_render_receivable_and_debit_reuse_the_invoice_billing_just_issued(
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    customer = await create_customer(api)
    body = contract_body(customer["id"], start_date=FIRST.isoformat(), items=HOSTING)
    contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()

    issued = Recent[IssuedInvoice]()
    provisioner = RecordingProvisioner(session_factory)
    contracts = ContractActivities(session_factory, provisioner, settings, issued)
    invoices = InvoiceActivities(session_factory, settings, issued)
    collection = CollectionActivities(session_factory, settings, issued)
    steps = ActivityEnvironment()
    billed = await steps.run(
        contracts.bill_period,
        BillPeriodInput(contract_id=contract["id"], due=FIRST, issued_on=berlin_today()),
    )
    number = billed.invoice_number
    assert number is not None and issued.get(number) is not None

    with statements(session_factory) as seen:
        documents = await steps.run(
            invoices.render_invoice_documents, RenderInvoiceInput(number=number)
        )
        receivable = await steps.run(collection.open_receivable, NumberInput(number=number))
        debit = await steps.run(collection.register_debit, RepresentInput(number=number))
    loads = [s for s in seen if s.startswith("SELECT") and " FROM invoice" in s]
    assert loads == []
    assert receivable.amount_cents == GROSS and debit.registered and debit.amount_cents == GROSS

    # Another process (nothing remembered) finds the same documents, receivable and debit.
    elsewhere = InvoiceActivities(session_factory, settings)
    assert (
        await steps.run(elsewhere.render_invoice_documents, RenderInvoiceInput(number=number))
    ).sha256 == documents.sha256
    cold = CollectionActivities(session_factory, settings)
    again = await steps.run(cold.register_debit, RepresentInput(number=number))
    assert again.end_to_end_id == debit.end_to_end_id == number
    async with session_factory() as session:
        stored = await session.get(Receivable, number)
        debits = (
            (await session.execute(select(SepaDebit).where(SepaDebit.invoice_number == number)))
            .scalars()
            .all()
        )
    assert stored is not None and stored.amount_cents == GROSS
    assert [d.amount_cents for d in debits] == [GROSS]
