"""Collection end to end: SEPA file, bank statements, return debits, the dunning ladder.
Amounts, dates, fees and interest are computed by hand in this file."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.collection_starts import CollectionStartActivities
from cli import main
from config import get_settings
from db import collection_starts
from db.backlog import Backlog, backlog
from db.collection_starts import RETRY_AFTER
from db.driver import driver_connection
from db.models import CollectionStart, Customer, Receivable, SepaDebit, SepaMandate
from devstack.smtp_sink import MailSink
from documents.pain008 import XSD
from domain.berlin_time import berlin_today
from domain.dunning import default_policy
from domain.target2 import next_business_day, on_or_after
from tests.camt_files import Entry, camt053, camt054
from tests.factories import (
    business_body,
    consumer_body,
    create_customer,
    issued,
    transfer_consumer_body,
)
from tests.helpers import auth, eventually, record_history, run_and_record, sent_mails
from workflows.collection_starts import CollectionStartsWorkflow
from workflows.invoice import DISPUTE_LOOK_EVERY, InvoiceWorkflow
from workflows.models import (
    CollectionStartsInput,
    CollectionStartsResult,
    InvoiceWorkflowInput,
    SepaBatchInput,
)
from workflows.print_batch import SepaBatchWorkflow
from workflows.search_attributes import INVOICE_STATUS

pytestmark = pytest.mark.usefixtures("catalog", "worker")

GROSS = 1998  # 9.99 hosting M + 9.99 setup, consumer list (gross); business: 8.39 + 8.39 + 19 %


async def debit_of(
    factory: async_sessionmaker[AsyncSession], number: str, attempt: int = 1
) -> SepaDebit | None:
    async with factory() as session:
        return (
            await session.execute(
                select(SepaDebit).where(
                    SepaDebit.invoice_number == number, SepaDebit.attempt == attempt
                )
            )
        ).scalar_one_or_none()


async def receivable(factory: async_sessionmaker[AsyncSession], number: str) -> Receivable | None:
    async with factory() as session:
        return await session.get(Receivable, number)


async def import_file(api: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await api.post(
        "/v1/bank-statements", content=content,
        headers={**auth("finance"), "Content-Type": "application/xml"},
    )  # fmt: skip


async def invoice_status(env: WorkflowEnvironment, number: str) -> str:
    handle = env.client.get_workflow_handle_for(InvoiceWorkflow.run, f"invoice-{number}")
    for _ in range(20):
        try:
            return await handle.query(InvoiceWorkflow.status_of)
        except Exception:  # noqa: BLE001 - right after a skip the query may be refused
            await asyncio.sleep(0.3)
    return await handle.query(InvoiceWorkflow.status_of)


async def described(env: WorkflowEnvironment, number: str) -> WorkflowExecutionDescription | None:
    """The invoice's workflow once the contract's workflow has started it."""
    try:
        return await env.client.get_workflow_handle(f"invoice-{number}").describe()
    except RPCError:
        return None


async def pending_start(
    factory: async_sessionmaker[AsyncSession], number: str
) -> CollectionStart | None:
    async with factory() as session:
        return await session.get(CollectionStart, number)


async def collection_input(
    session_factory: async_sessionmaker[AsyncSession], number: str
) -> dict[str, Any]:
    async with session_factory() as session:
        row = await session.get(CollectionStart, number)
        assert row is not None and row.input is not None
        return dict(row.input)


async def set_collection_input(
    session_factory: async_sessionmaker[AsyncSession], number: str, value: object
) -> None:
    async with session_factory() as session, session.begin():
        row = await session.get(CollectionStart, number)
        assert row is not None
        row.input = value


async def backlog_now(factory: async_sessionmaker[AsyncSession]) -> Backlog:
    """What /healthz shows as waiting (db/backlog.py), counting every relay row."""
    async with driver_connection(factory) as db:
        return await backlog(db, timedelta(0))


async def handed_over_row(
    factory: async_sessionmaker[AsyncSession], number: str
) -> CollectionStart | None:
    return await eventually(lambda: pending_start(factory, number), bool)


async def started_once(
    env: WorkflowEnvironment, factory: async_sessionmaker[AsyncSession], number: str
) -> None:
    """The pending start became one run of the invoice's workflow, which holds its input."""
    row = await pending_start(factory, number)
    assert row is not None and (row.state, row.input) == ("started", None)
    runs = await env.client.count_workflows(f"WorkflowId = 'invoice-{number}'")
    assert runs.count == 1


async def start_due(
    env: WorkflowEnvironment, settings: Any, until: datetime
) -> CollectionStartsResult:
    """The hourly sweep (workflows/collection_starts.py), run now for every row due by ``until``."""
    return await run_and_record(
        env.client, CollectionStartsWorkflow.run, CollectionStartsInput(until=until),
        "collection-starts", settings.temporal_task_queue,
    )  # fmt: skip


async def handed_over(
    env: WorkflowEnvironment,
    factory: async_sessionmaker[AsyncSession],
    settings: Any,
    number: str,
) -> WorkflowHandle[Any, Any]:
    """The invoice's workflow, idle until its first deadline: the contract's workflow has
    handed the invoice over (a pending start), and the sweep has reached its deadline."""
    row = await eventually(lambda: pending_start(factory, number), lambda r: r is not None, 30)
    assert row is not None and row.state == "pending"
    await start_due(env, settings, row.wake_at)
    return env.client.get_workflow_handle(f"invoice-{number}")


def paid_then_returned_am04(number: str, debit: SepaDebit) -> bytes:
    """A statement: the debit paid, then returned two days later (AM04, 3.00 € bank fee)."""
    return camt053(f"S-{uuid.uuid4().hex[:8]}", [
        Entry(GROSS, debit.collection_date, end_to_end_id=number),
        Entry(-(GROSS + 300), debit.collection_date + timedelta(days=2), end_to_end_id=number,
              return_reason="AM04", fee_cents=300),
    ])  # fmt: skip


def read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


async def test_on_time_debit_is_collected_once_and_paid(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Any,
) -> None:
    invoice = await issued(api, await create_customer(api))
    number = invoice["number"]
    debit = await eventually(lambda: debit_of(session_factory, number), lambda d: d is not None, 30)
    assert debit is not None and debit.end_to_end_id == number and debit.amount_cents == GROSS
    due = date.fromisoformat(invoice["payment"]["debit_date"])
    assert debit.collection_date == on_or_after(max(due, next_business_day(berlin_today())))

    day = debit.collection_date - timedelta(days=1)
    batch = await temporal_env.client.execute_workflow(
        SepaBatchWorkflow.run, SepaBatchInput(day=day), id=f"sepa-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )  # fmt: skip
    assert batch.batch_id == f"SDD-{day.isoformat()}" and batch.transactions >= 1
    xml = await api.get(f"/v1/sepa/batches/{batch.batch_id}.xml", headers=auth("finance"))
    document = etree.fromstring(xml.content)
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(document)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}
    assert number in document.xpath("//p:EndToEndId/text()", namespaces=ns)
    assert document.xpath("//p:GrpHdr/p:MsgId/text()", namespaces=ns) == [batch.batch_id]
    listed = (await api.get("/v1/sepa/batches", headers=auth("finance"))).json()
    assert any(b["id"] == batch.batch_id for b in listed)
    stamped = await debit_of(session_factory, number)
    async with session_factory() as session:
        mandate = await session.get(SepaMandate, debit.mandate_reference)
    assert stamped is not None and stamped.batch_id == batch.batch_id
    assert mandate is not None and mandate.last_used_on == debit.collection_date
    later = await temporal_env.client.execute_workflow(
        SepaBatchWorkflow.run, SepaBatchInput(day=day + timedelta(days=1)), id=f"sepa-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )  # fmt: skip
    if later.path:  # every debit lands in exactly one file
        assert number.encode() not in read(later.path)

    # The contract's workflow sent and registered the invoice and handed it over: no
    # workflow of its own yet, a pending start at the reminder's deadline (due + 7 days).
    row = await eventually(lambda: pending_start(session_factory, number), lambda r: r is not None)
    assert row is not None and row.state == "pending" and row.input is not None
    assert row.input["handed_over"]["debit"]["end_to_end_id"] == number
    reminder = debit.collection_date + timedelta(days=7)
    wakes = row.wake_at.astimezone(UTC)
    assert wakes.date() == reminder - timedelta(days=1) and wakes.hour in (22, 23)  # 00:00 Berlin
    assert await described(temporal_env, number) is None
    shown = (await api.get(f"/v1/invoices/{number}", headers=auth("support"))).json()
    assert shown["collection"] == {
        "status": "open", "open_cents": GROSS, "disputed": False, "dunning_step": None,
        "start": "pending", "starts_at": row.wake_at.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip

    statement = camt054(
        f"N-{uuid.uuid4().hex[:8]}", [Entry(GROSS, debit.collection_date, end_to_end_id=number)]
    )
    first = await import_file(api, statement)
    assert first.status_code == 200, first.text
    assert (first.json()["new_lines"], first.json()["booked"]) == (1, 1)
    again = await import_file(api, statement)
    assert (again.json()["new_lines"], again.json()["booked"]) == (0, 0)
    paid = await receivable(session_factory, number)
    assert paid is not None and (paid.status, paid.paid_cents) == ("paid", GROSS)
    customer_id = invoice["customer_id"]
    for status, expected in (("paid", [number]), ("open", [])):
        listed = await api.get(
            "/v1/invoices", params={"customer_id": customer_id, "status": status},
            headers=auth("finance"),
        )  # fmt: skip
        assert [i["number"] for i in listed.json()["items"]] == expected

    # Paid before its deadline: the sweep settles it, and no workflow is ever started.
    swept = await start_due(temporal_env, settings, row.wake_at)
    assert swept.settled >= 1
    settled = await pending_start(session_factory, number)
    assert settled is not None and settled.state == "settled"
    shown = (await api.get(f"/v1/invoices/{number}", headers=auth("support"))).json()
    assert (shown["collection"]["status"], shown["collection"]["start"]) == ("paid", "settled")
    assert await described(temporal_env, number) is None
    assert await start_due(temporal_env, settings, row.wake_at) == CollectionStartsResult(
        started=0, settled=0
    )  # nothing is due twice

    # Days later the bank returns the debit (AM04): the workflow starts as handed over and
    # presents it once more.
    returned = camt054(f"N-{uuid.uuid4().hex[:8]}", [
        Entry(-GROSS, debit.collection_date + timedelta(days=4), end_to_end_id=number,
              return_reason="AM04"),
    ])  # fmt: skip
    assert (await import_file(api, returned)).json()["booked"] == 1
    second = await eventually(
        lambda: debit_of(session_factory, number, 2), lambda d: d is not None, 30
    )
    assert second is not None and second.end_to_end_id == f"{number}-2"
    await started_once(temporal_env, session_factory, number)


async def test_am04_return_is_presented_again_then_paid(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    invoice = await issued(api, await create_customer(api))
    number = invoice["number"]
    debit = await eventually(lambda: debit_of(session_factory, number), lambda d: d is not None, 30)
    assert debit is not None
    response = await import_file(api, paid_then_returned_am04(number, debit))
    assert response.json()["booked"] == 2, response.text
    second = await eventually(
        lambda: debit_of(session_factory, number, 2), lambda d: d is not None, 30
    )
    assert second is not None and second.end_to_end_id == f"{number}-2"
    assert second.collection_date >= berlin_today() + timedelta(days=7)
    notices = await eventually(
        lambda: asyncio.sleep(0, [m for m in sent_mails(mail_sink, number) if "notice-represent" in m["Message-ID"]]),
        bool, 20,
    )  # fmt: skip
    text = notices[0].get_body(("plain",)).get_content()
    assert "19,98 €" in text and second.mandate_reference in text
    await import_file(
        api,
        camt054(
            f"N-{uuid.uuid4().hex[:8]}",
            [Entry(GROSS, second.collection_date, end_to_end_id=f"{number}-2")],
        ),
    )
    assert (
        await eventually(lambda: invoice_status(temporal_env, number), lambda s: s == "paid")
        == "paid"
    )


async def test_a_return_after_the_invoice_was_paid_opens_collection_again(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Any,
) -> None:
    """The invoice's workflow has started (its deadline came) and ended as paid; days later
    the bank returns the debit (AM04): a new run presents it once more."""
    invoice = await issued(api, await create_customer(api))
    number = invoice["number"]
    debit = await eventually(lambda: debit_of(session_factory, number), lambda d: d is not None, 30)
    assert debit is not None
    await handed_over(temporal_env, session_factory, settings, number)
    # Idle (no task, one event) until its deadline or a booking.
    idle = await described(temporal_env, number)
    assert idle is not None and idle.history_length == 1
    assert idle.typed_search_attributes.get(INVOICE_STATUS) == "debit_registered"
    paid = camt054(
        f"N-{uuid.uuid4().hex[:8]}", [Entry(GROSS, debit.collection_date, end_to_end_id=number)]
    )
    assert (await import_file(api, paid)).json()["booked"] == 1
    handle = temporal_env.client.get_workflow_handle(f"invoice-{number}")

    async def closed() -> bool:
        return (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED

    assert await eventually(closed, bool, 30)
    returned = camt054(f"N-{uuid.uuid4().hex[:8]}", [
        Entry(-(GROSS + 300), debit.collection_date + timedelta(days=3), end_to_end_id=number,
              return_reason="AM04", fee_cents=300),
    ])  # fmt: skip
    assert (await import_file(api, returned)).json()["booked"] == 1
    second = await eventually(
        lambda: debit_of(session_factory, number, 2), lambda d: d is not None, 30
    )
    assert second is not None and second.end_to_end_id == f"{number}-2"
    assert second.amount_cents == GROSS  # the bank's fee goes into the dunning letters
    runs = await temporal_env.client.count_workflows(f"WorkflowId = 'invoice-{number}'")
    assert runs.count == 2
    await record_history(temporal_env.client, f"invoice-{number}", "invoice-debit")


async def test_md06_refund_switches_to_transfer_and_asks_for_a_mandate(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    customer = await create_customer(api)
    invoice = await issued(api, customer)
    number = invoice["number"]
    debit = await eventually(lambda: debit_of(session_factory, number), lambda d: d is not None, 30)
    assert debit is not None
    await import_file(api, camt053(f"S-{uuid.uuid4().hex[:8]}", [
        Entry(GROSS, debit.collection_date, end_to_end_id=number),
        Entry(-GROSS, debit.collection_date + timedelta(days=20), end_to_end_id=number, return_reason="MD06"),
    ]))  # fmt: skip

    async def method() -> str:
        async with session_factory() as session:
            row = await session.get(Customer, uuid.UUID(customer["id"]))
            return row.payment_method if row else ""

    assert await eventually(method, lambda m: m == "bank_transfer") == "bank_transfer"
    assert await debit_of(session_factory, number, 2) is None  # no second debit after a refund
    state = await api.get(
        f"/v1/contracts/{invoice['contract']['id']}/state", headers=auth("support")
    )
    assert state.json()["payment_method"] == "bank_transfer"  # what support sees, too
    notices = await eventually(
        lambda: asyncio.sleep(0, [m for m in sent_mails(mail_sink, number) if "notice-new_mandate" in m["Message-ID"]]),
        bool, 20,
    )  # fmt: skip
    assert "neues SEPA-Lastschriftmandat" in notices[0].get_body(("plain",)).get_content()


async def test_partial_payment_over_payment_unmatched_line_and_bad_statement(
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    transfer = transfer_consumer_body()
    one = await issued(api, await create_customer(api, transfer))
    two = await issued(
        api, await create_customer(api, dict(transfer, crm_reference=f"C-{uuid.uuid4().hex[:8]}"))
    )
    await eventually(
        lambda: receivable(session_factory, two["number"]), lambda r: r is not None, 30
    )
    day = berlin_today()
    statement = camt053(f"S-{uuid.uuid4().hex[:8]}", [
        Entry(1000, day, remittance=f"Rechnung {one['number']} Teilzahlung"),
        Entry(GROSS + 500, day, remittance=f"{two['number']}"),
        Entry(777, day, remittance="unbekannt", iban="DE02120300000000202051", name="Jemand"),
    ])  # fmt: skip
    response = await import_file(api, statement)
    assert (response.json()["booked"], response.json()["unmatched"]) == (2, 1), response.text
    partial = await receivable(session_factory, one["number"])
    assert partial is not None and (partial.paid_cents, partial.open_cents, partial.status) == (
        1000,
        GROSS - 1000,
        "open",
    )
    over = await receivable(session_factory, two["number"])
    assert over is not None and (over.paid_cents, over.status) == (GROSS, "paid")
    # the 5.00 paid beyond the invoice is the customer's credit, which support can see
    path = f"/v1/customers/{two['contract']['customer_id']}/credits"
    credits = (await api.get(path, headers=auth("support"))).json()
    assert credits["total_cents"] == 500
    assert credits["credits"][0]["source"].startswith(f"over-payment of {two['number']}")
    assert (await api.get(path, headers=auth("crm"))).status_code == 403

    lines = (
        await api.get("/v1/bank-lines", params={"status": "unmatched"}, headers=auth("finance"))
    ).json()
    mine = next(
        line for line in lines if line["amount_cents"] == 777 and line["remittance"] == "unbekannt"
    )
    assigned = await api.post(
        f"/v1/bank-lines/{mine['id']}/assignment",
        json={"invoice_number": one["number"], "reason": "Kunde rief an: Rest zu Rechnung"},
        headers=auth("finance"),
    )
    assert assigned.status_code == 200, assigned.text
    assert (
        assigned.json()["assigned_by"].startswith("finance:")
        and assigned.json()["matched_by"] == "manual"
    )
    after = await receivable(session_factory, one["number"])
    assert after is not None and after.paid_cents == 1000 + 777
    twice = await api.post(
        f"/v1/bank-lines/{mine['id']}/assignment",
        json={"invoice_number": one["number"], "reason": "noch einmal"}, headers=auth("finance"),
    )  # fmt: skip
    assert twice.status_code == 409

    broken = camt053(f"S-{uuid.uuid4().hex[:8]}", [Entry(100, day)], closing_cents=1)
    refused = await import_file(api, broken)
    assert refused.status_code == 422 and "closing" in refused.text
    assert (await import_file(api, b"<nonsense/>")).status_code == 422


async def test_no_payment_walks_the_ladder_suspends_and_payment_resumes(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
    settings: Any,
) -> None:
    transfer = transfer_consumer_body()
    invoice = await issued(api, await create_customer(api, transfer))
    number = invoice["number"]
    due = date.fromisoformat(invoice["due_date"])
    assert due == date.fromisoformat(invoice["issue_date"]) + timedelta(days=14)
    handle = await handed_over(temporal_env, session_factory, settings, number)
    await temporal_env.fast_forward(handle, timedelta(days=(due - berlin_today()).days + 50))
    contract_id = invoice["contract"]["id"]

    async def contract_status() -> str:
        return (await api.get(f"/v1/contracts/{contract_id}", headers=auth("support"))).json()[
            "status"
        ]

    assert await eventually(contract_status, lambda s: s == "suspended", 30) == "suspended"
    letters = {
        m["Message-ID"]: m for m in sent_mails(mail_sink, number) if "dunning" in m["Message-ID"]
    }
    assert len(letters) == 3

    def letter_text(step: str) -> str:
        mail = letters[f"<dunning-{step}.{number}@faktura.example>"]
        [pdf] = list(mail.iter_attachments())
        return PdfReader(BytesIO(pdf.get_content())).pages[0].extract_text().replace("\xa0", " ")

    # Reminder on due+7, free; default from the day after (due+8).
    reminder = letter_text("reminder")
    assert (due + timedelta(days=7)).strftime("%d.%m.%Y") in reminder and "19,98 €" in reminder
    # First notice on due+21: 1.00 fee; interest 19.98 x (1.27 + 5) % x 13/365 = 0.0446 -> 0.04
    first = letter_text("first_notice")
    assert (due + timedelta(days=21)).strftime("%d.%m.%Y") in first
    assert "Mahnkosten 1,00 €" in first and "0,04 €" in first and "21,02 €" in first
    # Final notice on due+35: 2.00 fees; interest x 27/365 = 0.0927 -> 0.09; deadline +14 days
    final = letter_text("final_notice")
    assert "2,00 €" in final and "0,09 €" in final and "22,07 €" in final
    assert (due + timedelta(days=49)).strftime("%d.%m.%Y") in final

    state = (await api.get(f"/v1/contracts/{contract_id}/state", headers=auth("support"))).json()
    assert state["dunning_level"] >= 3
    await import_file(
        api, camt053(f"S-{uuid.uuid4().hex[:8]}", [Entry(GROSS, berlin_today(), remittance=number)])
    )
    assert await eventually(contract_status, lambda s: s == "active", 30) == "active"
    state = (await api.get(f"/v1/contracts/{contract_id}/state", headers=auth("support"))).json()
    assert state["dunning_level"] == 0
    await eventually(lambda: invoice_status(temporal_env, number), lambda s: s == "paid")
    await record_history(temporal_env.client, f"invoice-{number}", "invoice-dunning")
    await record_history(temporal_env.client, f"contract-{contract_id}", "contract-dunning")


async def test_business_default_is_handed_over_to_collection(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Any,
    mail_sink: MailSink,
) -> None:
    invoice = await issued(api, await create_customer(api, business_body()))
    number = invoice["number"]
    due = date.fromisoformat(invoice["due_date"])
    handle = await handed_over(temporal_env, session_factory, settings, number)
    await temporal_env.fast_forward(handle, timedelta(days=(due - berlin_today()).days + 80))
    assert (
        await eventually(
            lambda: invoice_status(temporal_env, number), lambda s: s == "collection", 30
        )
        == "collection"
    )
    cases = (await api.get("/v1/collections", headers=auth("finance"))).json()
    case = next(c for c in cases if c["invoice_number"] == number)
    assert case["claim"]["open_cents"] == 1997 and case["debtor"]["kind"] == "business"
    assert case["flat_fee_cents"] == 4000  # § 288 Abs. 5 BGB, businesses only
    assert case["fees_cents"] == 300  # 1.50 first notice + 1.50 final notice
    # interest from due+8 to due+77: 69 days x (1.27 + 9) % on 19.97 = 0.3879 -> 0.39
    assert case["interest"] == {"points_above_base_rate": 9, "cents": 39}
    assert sorted(d["step"] for d in case["dunning"]) == [
        "dunning:final_notice", "dunning:first_notice", "dunning:reminder",
    ]  # fmt: skip
    csv_text = (
        await api.get("/v1/collections", params={"format": "csv"}, headers=auth("finance"))
    ).text
    assert number in csv_text
    # the ladder's termination reached the contract, and the customer is told in writing
    contract_id = invoice["contract"]["id"]
    [termination] = await eventually(
        lambda: asyncio.to_thread(sent_mails, mail_sink, f"cancellation.{contract_id}"), bool, 30
    )
    assert (
        termination["Subject"] == f"Kündigung Ihres Vertrags {invoice['contract']['crm_reference']}"
    )
    assert (
        "kündigen den Vertrag deshalb außerordentlich"
        in termination.get_body(("plain",)).get_content()
    )

    async def listed_in(**period: str) -> set[str]:
        listed = await api.get("/v1/collections", params=period, headers=auth("finance"))
        return {c["invoice_number"] for c in listed.json()}

    day = date.fromisoformat(case["handed_over_on"])
    assert number in await listed_in(handed_over_from=str(day), handed_over_to=str(day))
    assert number not in await listed_in(handed_over_from=str(day + timedelta(days=1)))
    assert number not in await listed_in(handed_over_to=str(day - timedelta(days=1)))


async def test_a_dispute_pauses_the_ladder(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
    settings: Any,
) -> None:
    """Disputed before its collection started: the flag alone stops the ladder."""
    transfer = transfer_consumer_body()
    invoice = await issued(api, await create_customer(api, transfer))
    number = invoice["number"]
    due = date.fromisoformat(invoice["due_date"])
    await eventually(lambda: pending_start(session_factory, number), lambda r: r is not None, 30)
    disputed = await api.post(
        f"/v1/invoices/{number}/dispute", json={"disputed": True, "reason": "Leistung bestritten"},
        headers=auth("support"),
    )  # fmt: skip
    assert disputed.status_code == 200, disputed.text
    assert await described(temporal_env, number) is None
    handle = await handed_over(temporal_env, session_factory, settings, number)
    await temporal_env.fast_forward(handle, timedelta(days=(due - berlin_today()).days + 30))
    assert (
        await eventually(lambda: invoice_status(temporal_env, number), lambda s: s == "disputed")
        == "disputed"
    )
    assert [m for m in sent_mails(mail_sink, number) if "dunning" in m["Message-ID"]] == []
    stored = await receivable(session_factory, number)
    assert stored is not None and stored.disputed and stored.dunning_step is None


async def test_a_dispute_lifted_while_its_signal_was_lost_resumes_within_a_day(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
    settings: Any,
) -> None:
    """Support lifts a dispute while Temporal is down: the receivable says so, but the
    workflow's signal is lost. The waiting workflow reads the receivable once a day, so the
    ladder goes on (here: the reminder) instead of waiting for ever."""
    invoice = await issued(api, await create_customer(api, transfer_consumer_body()))
    number = invoice["number"]
    due = date.fromisoformat(invoice["due_date"])
    await eventually(lambda: pending_start(session_factory, number), bool, 30)
    disputed = await api.post(
        f"/v1/invoices/{number}/dispute", json={"disputed": True, "reason": "bestritten"},
        headers=auth("support"),
    )  # fmt: skip
    assert disputed.status_code == 200, disputed.text
    handle = await handed_over(temporal_env, session_factory, settings, number)
    past_reminder = (due - berlin_today()).days + default_policy(False).steps[0].days_after_due
    await temporal_env.fast_forward(handle, timedelta(days=past_reminder, hours=1))
    assert await eventually(lambda: invoice_status(temporal_env, number), "disputed".__eq__)
    async with session_factory() as session, session.begin():  # lifted; no signal arrives
        stored = await session.get(Receivable, number)
        assert stored is not None
        stored.disputed = False

    await temporal_env.fast_forward(handle, DISPUTE_LOOK_EVERY + timedelta(hours=1))
    assert await eventually(lambda: invoice_status(temporal_env, number), "reminder".__eq__, 30)
    reminders = [m for m in sent_mails(mail_sink, number) if "dunning" in m["Message-ID"]]
    assert [m["Message-ID"].split(".")[0] for m in reminders] == ["<dunning-reminder"]
    await record_history(temporal_env.client, f"invoice-{number}", "invoice-dispute")


async def test_a_mandate_unused_for_36_months_lapses(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    signed = berlin_today() - timedelta(days=3 * 365 + 30)  # more than 36 months ago, never used
    mandate = {**consumer_body()["sepa_mandate"], "signed_on": signed.isoformat()}
    mandate["mandate_reference"] = f"OLD-{uuid.uuid4().hex[:10]}"
    invoice = await issued(api, await create_customer(api, consumer_body(sepa_mandate=mandate)))
    number = invoice["number"]
    await eventually(lambda: receivable(session_factory, number), lambda r: r is not None, 30)
    await asyncio.sleep(2)  # the workflow registers (or refuses) the debit right after
    assert await debit_of(session_factory, number) is None
    async with session_factory() as session:
        row = await session.get(SepaMandate, mandate["mandate_reference"])
    assert row is not None and row.status == "lapsed"


async def test_a_statement_imported_on_the_command_line_reaches_collection(
    api: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """``faktura bank import FILE``: the debit is booked and then returned (MS03) in one
    statement; the return starts the invoice's pending collection, which presents it again."""
    invoice = await issued(api, await create_customer(api))
    number = invoice["number"]
    debit = await eventually(lambda: debit_of(session_factory, number), lambda d: d is not None, 30)
    assert debit is not None
    await eventually(lambda: pending_start(session_factory, number), lambda r: r is not None, 30)
    statement = tmp_path / "statement.xml"
    statement.write_bytes(camt053(f"S-{uuid.uuid4().hex[:8]}", [
        Entry(GROSS, debit.collection_date, end_to_end_id=number),
        Entry(-GROSS, debit.collection_date + timedelta(days=2), end_to_end_id=number,
              return_reason="MS03"),
    ]))  # fmt: skip
    for name in ("database_url", "temporal_address", "temporal_task_queue", "archive_dir"):
        monkeypatch.setenv(f"FAKTURA_{name.upper()}", str(getattr(settings, name)))
    get_settings.cache_clear()
    try:
        await asyncio.to_thread(main, ["bank", "import", str(statement)])
    finally:
        get_settings.cache_clear()
    second = await eventually(
        lambda: debit_of(session_factory, number, 2), lambda d: d is not None, 30
    )
    assert second is not None and second.end_to_end_id == f"{number}-2"
    started = await pending_start(session_factory, number)
    assert started is not None and started.state == "started"


async def test_a_sweep_that_dies_before_marking_starts_no_second_run(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweep starts first and marks after: a crash in between leaves the row pending,
    and the next sweep's start finds the running workflow instead of making another."""
    invoice = await issued(api, await create_customer(api, transfer_consumer_body()))
    number = invoice["number"]
    row = await eventually(lambda: pending_start(session_factory, number), lambda r: r is not None)
    assert row is not None
    steps = ActivityEnvironment(client=temporal_env.client)
    sweep = CollectionStartActivities(session_factory).start_due_collections

    async def crash(*_: Any) -> None:
        raise RuntimeError("worker lost before marking")

    with monkeypatch.context() as patched:
        patched.setattr(collection_starts, "mark", crash)
        with pytest.raises(RuntimeError):
            await steps.run(sweep, CollectionStartsInput(until=row.wake_at))
    assert (await pending_start(session_factory, number)).state == "pending"  # type: ignore[union-attr]
    assert await described(temporal_env, number) is not None  # started before the crash

    again = await steps.run(sweep, CollectionStartsInput(until=row.wake_at))
    assert again.started >= 1
    await started_once(temporal_env, session_factory, number)


async def test_a_handed_over_credit_note_is_settled_without_a_workflow(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Any,
) -> None:
    """A credit note the contract's workflow hands over (a final settlement's refund) has no
    receivable of its own: its deadline comes, and there is nothing to collect."""
    invoice = await issued(api, await create_customer(api, transfer_consumer_body()))
    row = await eventually(
        lambda: pending_start(session_factory, invoice["number"]), lambda r: r is not None
    )
    assert row is not None
    note = f"RE-2099-{uuid.uuid4().int % 10**7:07d}"  # no receivable has this number
    handed_over = InvoiceWorkflowInput.model_validate(row.input)
    async with driver_connection(session_factory) as db:
        await collection_starts.defer(
            db, handed_over.model_copy(update={"number": note}), row.wake_at
        )
    await start_due(temporal_env, settings, row.wake_at)
    settled = await pending_start(session_factory, note)
    assert settled is not None and settled.state == "settled"
    assert await described(temporal_env, note) is None


async def test_a_start_that_fails_for_a_reason_of_its_own_waits_and_the_sweep_goes_on(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """A pending row whose stored input this version cannot read must not fail the hourly
    sweep for every other invoice (the activity would be retried for ever): the row is
    noted and tried again an hour later, and starts once repaired."""
    rows = []
    for _ in range(2):
        invoice = await issued(api, await create_customer(api, transfer_consumer_body()))
        rows.append(await handed_over_row(session_factory, invoice["number"]))
    broken, healthy = rows
    assert broken is not None and healthy is not None
    stored = await collection_input(session_factory, broken.invoice_number)
    await set_collection_input(session_factory, broken.invoice_number, {"number": 42})
    steps = ActivityEnvironment(client=temporal_env.client)
    sweep = CollectionStartActivities(session_factory).start_due_collections

    failing = (await backlog_now(session_factory)).collection_starts_failing
    swept = await steps.run(sweep, CollectionStartsInput(until=healthy.wake_at))
    assert swept.failed == 1 and swept.started >= 1
    assert (await backlog_now(session_factory)).collection_starts_failing == failing + 1
    assert await described(temporal_env, healthy.invoice_number) is not None
    assert await described(temporal_env, broken.invoice_number) is None
    noted = await pending_start(session_factory, broken.invoice_number)
    assert noted is not None and (noted.state, noted.attempts) == ("pending", 1)
    assert noted.last_error is not None and noted.last_error.startswith("ValidationError")
    assert noted.wake_at >= healthy.wake_at + RETRY_AFTER  # due again after this sweep

    await set_collection_input(session_factory, broken.invoice_number, stored)
    again = await steps.run(sweep, CollectionStartsInput(until=noted.wake_at))
    assert again.failed == 0
    await started_once(temporal_env, session_factory, broken.invoice_number)
    assert (await backlog_now(session_factory)).collection_starts_failing == failing
