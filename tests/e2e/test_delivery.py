"""Delivery against a real SMTP server (aiosmtpd): content, outages, rejections, crashes,
postal fallback and the daily print batch."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import hashlib
import uuid
from datetime import date, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.delivery import DeliveryActivities, SmtpMailer
from activities.invoicing import InvoiceActivities
from config import Settings
from db.models import OutboxMessage, PostalItem
from devstack.processes import free_port
from devstack.smtp_sink import MailSink
from domain.berlin_time import berlin_today
from tests.factories import business_body, consumer_body, contract_body, create_customer
from tests.helpers import auth, eventually, sent_mails
from worker import running_worker
from workflows.models import PrintBatchInput, SendDocumentInput
from workflows.print_batch import PrintBatchWorkflow

FIRST = berlin_today().replace(day=1)
HOSTING = [{"product_code": "hosting-m-monthly", "domain": "zustellung.de"}]


async def invoice_of(
    api: httpx.AsyncClient, customer: dict[str, Any], *, within: float = 30
) -> dict[str, Any]:
    body = contract_body(customer["id"], start_date=FIRST.isoformat(), items=HOSTING)
    contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()

    async def page() -> dict[str, Any]:
        path = f"/v1/contracts/{contract['id']}/invoices"
        return (await api.get(path, headers=auth("finance"))).json()

    listed = await eventually(page, lambda p: p.get("total", 0) >= 1, within)
    number = listed["items"][0]["number"]
    detail = await eventually(
        lambda: api.get(f"/v1/invoices/{number}", headers=auth("finance")),
        lambda r: len(r.json()["documents"]) >= 2,
        within,
    )
    return detail.json()


async def outbox(factory: async_sessionmaker[AsyncSession], number: str) -> OutboxMessage | None:
    async with factory() as session:
        return (
            await session.execute(select(OutboxMessage).where(OutboxMessage.reference == number))
        ).scalar_one_or_none()


def msgid(number: str) -> str:
    return f"<invoice.{number}@faktura.example>"


async def test_invoice_mail_content(
    api: httpx.AsyncClient, worker: object, catalog: None, mail_sink: MailSink
) -> None:
    invoice = await invoice_of(api, await create_customer(api))
    number = invoice["number"]
    [mail] = await eventually(
        lambda: asyncio.sleep(0, sent_mails(mail_sink, msgid(number))), bool, 30
    )
    assert mail["To"] == "erika@example.org"
    assert mail["Subject"] == f"Ihre Rechnung {number} über 19,98 €"
    assert mail["From"] == "faktura Demo Hosting <billing@faktura.example>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    debit = date.fromisoformat(invoice["payment"]["debit_date"]).strftime("%d.%m.%Y")
    mandate = invoice["payment"]["mandate_reference"]
    for expected in ("19,98 €", debit, mandate, "DE98ZZZ09999999999", "DE89 **** **** 3000"):
        assert expected in text, expected
        assert expected in html, expected
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"{number}.pdf"
    stored = {d["kind"]: d["sha256"] for d in invoice["documents"]}
    assert hashlib.sha256(attachment.get_content()).hexdigest() == stored["pdf"]


async def test_transfer_customer_gets_bank_details_girocode_and_xrechnung(
    api: httpx.AsyncClient, worker: object, catalog: None, mail_sink: MailSink
) -> None:
    public = business_body(buyer_reference="04011000-1234512345-06", language="en")
    invoice = await invoice_of(api, await create_customer(api, public))
    [mail] = await eventually(
        lambda: asyncio.sleep(0, sent_mails(mail_sink, msgid(invoice["number"]))), bool, 30
    )
    assert mail["Subject"] == f"Your invoice {invoice['number']} for €19.97"
    text = mail.get_body(("plain",)).get_content()
    assert "DE89 3704 0044 0532 0130 00" in text and invoice["number"] in text
    names = sorted(part.get_filename() for part in mail.iter_attachments())
    assert names == [f"{invoice['number']}-xrechnung.xml", f"{invoice['number']}.pdf"]
    images = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<girocode>"


async def test_smtp_down_for_a_while_then_exactly_one_mail(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    port = free_port()
    down = settings.model_copy(update={"smtp_port": port})
    async with running_worker(down, temporal_env.client):
        invoice = await invoice_of(api, await create_customer(api))
        number = invoice["number"]
        row = await eventually(
            lambda: outbox(session_factory, number), lambda r: bool(r and r.last_error)
        )
        assert row is not None and row.status == "sending" and "Connect" in (row.last_error or "")
        sink = MailSink(tmp_path / "mail", port=port)
        sink.start()
        try:
            row = await eventually(
                lambda: outbox(session_factory, number),
                lambda r: r is not None and r.status == "sent",
                60,
            )
            assert row is not None and row.status == "sent" and row.smtp_reply
            assert len(sent_mails(sink, msgid(number))) == 1
            assert len(sink.messages()) == 1
        finally:
            sink.stop()


async def test_rejected_address_goes_by_post_and_flags_the_customer(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    sink = MailSink(tmp_path / "mail", port=free_port())
    address = f"gone-{uuid.uuid4().hex[:6]}@example.org"
    sink.handler.rejected_recipients.add(address)
    sink.start()
    try:
        async with running_worker(
            settings.model_copy(update={"smtp_port": sink.port}), temporal_env.client
        ):
            customer = await create_customer(api, consumer_body(email=address))
            invoice = await invoice_of(api, customer)
            row = await eventually(
                lambda: outbox(session_factory, invoice["number"]),
                lambda r: r is not None and r.status == "postal",
            )
            assert row is not None and "550" in (row.last_error or "")
            assert sink.messages() == []
            flagged = await api.get(
                "/v1/customers", params={"flag": "email_bounced"}, headers=auth("support")
            )
            entry = next(f for f in flagged.json() if f["customer"]["id"] == customer["id"])
            assert address in entry["detail"]

            day = date(2099, 1, 1)
            handle = await temporal_env.client.start_workflow(
                PrintBatchWorkflow.run,
                PrintBatchInput(day=day),
                id=f"print-{uuid.uuid4()}",
                task_queue=settings.temporal_task_queue,
            )
            batch = await handle.result()
    finally:
        sink.stop()
    assert batch.items >= 1 and batch.pdf_path
    manifest = Path(batch.pdf_path).with_suffix(".csv").read_text()
    rows = list(csv.DictReader(manifest.splitlines(), delimiter=";"))
    mine = next(r for r in rows if r["document"] == f"{invoice['number']}.pdf")
    assert mine["reason"] == "email_rejected" and "Lindenweg 3" in mine["address"]
    assert len(PdfReader(batch.pdf_path).pages) >= batch.items
    async with session_factory() as session:
        item = (
            await session.execute(select(PostalItem).where(PostalItem.outbox_id == row.id))
        ).scalar_one()
    assert item.batch_date == day


async def test_postal_customer_gets_no_mail(
    api: httpx.AsyncClient,
    worker: object,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    invoice = await invoice_of(
        api, await create_customer(api, consumer_body(invoice_channel="postal"))
    )
    row = await eventually(
        lambda: outbox(session_factory, invoice["number"]),
        lambda r: r is not None and r.status == "postal",
    )
    assert row is not None and row.attempts == 0
    assert sent_mails(mail_sink, msgid(invoice["number"])) == []


async def test_a_postal_customer_gets_the_cancellation_confirmation_by_post(
    api: httpx.AsyncClient,
    worker: object,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    mail_sink: MailSink,
) -> None:
    """§312k BGB asks for a confirmation in text form: a customer who chose letters gets
    the confirmation letter queued for print, and support sees that it went by post."""
    customer = await create_customer(api, consumer_body(invoice_channel="postal"))
    body = contract_body(customer["id"], start_date=FIRST.isoformat(), items=HOSTING)
    contract = (await api.post("/v1/contracts", json=body, headers=auth("crm"))).json()
    path = f"/v1/contracts/{contract['id']}"
    await eventually(
        lambda: api.get(path + "/state", headers=auth("crm")),
        lambda r: r.json().get("status") == "active",
        30,
    )
    cancelled = await api.post(
        path + "/cancellation", json={"kind": "ordinary"}, headers=auth("crm")
    )
    assert cancelled.status_code == 200, cancelled.text
    end = date.fromisoformat(cancelled.json()["end_date"])
    history = await eventually(
        lambda: api.get(path + "/history", headers=auth("support")),
        lambda r: (r.json()["cancellation"] or {}).get("confirmation_status") == "postal",
        30,
    )
    record = history.json()["cancellation"]
    assert datetime.fromisoformat(record["received_at"]) == datetime.fromisoformat(
        cancelled.json()["received_at"]
    )
    assert (record["kind"], record["end_date"]) == ("ordinary", end.isoformat())
    async with session_factory() as session:
        posted = (
            (
                await session.execute(
                    select(PostalItem)
                    .join(OutboxMessage, PostalItem.outbox_id == OutboxMessage.id)
                    .where(
                        OutboxMessage.purpose == "cancellation",
                        OutboxMessage.reference == contract["id"],
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [item.reason for item in posted] == ["customer_chose_postal"]
    text = PdfReader(posted[0].document_path).pages[0].extract_text()
    assert "Kündigungsbestätigung" in text and f"Ablauf des {end:%d.%m.%Y}" in text
    assert sent_mails(mail_sink, f"cancellation.{contract['id']}") == []


class WorkerKilled(BaseException):
    """Like SIGKILL: no ``except Exception`` handler of the activity runs."""


async def invoice_copy(
    api: httpx.AsyncClient, settings: Settings, temporal_env: WorkflowEnvironment, sink: MailSink
) -> tuple[Settings, SendDocumentInput]:
    """An invoice rendered (and posted) for a postal customer, and the request to send it
    to an e-mail customer under another purpose, through ``sink``."""
    postal = await create_customer(api, consumer_body(invoice_channel="postal"))
    async with running_worker(settings, temporal_env.client):
        invoice = await invoice_of(api, postal)  # documents exist; delivery went by post
    customer = await create_customer(api)
    request = SendDocumentInput(
        purpose="invoice-copy", reference=invoice["number"], customer_id=customer["id"]
    )
    return settings.model_copy(update={"smtp_port": sink.port}), request


def copying(
    session_factory: async_sessionmaker[AsyncSession], smtp: Settings, mailer: Any
) -> DeliveryActivities:
    """Delivery activities that compose ``invoice-copy`` like an invoice."""
    delivery = DeliveryActivities(
        session_factory, smtp, mailer, InvoiceActivities(session_factory, smtp)
    )
    delivery.composers["invoice-copy"] = delivery.composers["invoice"]
    return delivery


class CrashAfterSend:
    """The worker dies after the server accepted the mail, before the outbox row is updated."""

    def __init__(self, settings: Settings) -> None:
        self.real = SmtpMailer(settings)

    async def send(self, message: Message) -> str:
        await self.real.send(message)
        raise WorkerKilled


async def test_crash_between_send_and_record_gives_at_most_one_duplicate_with_the_same_id(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    sink = MailSink(tmp_path / "mail", port=free_port())
    sink.start()
    try:
        smtp, request = await invoice_copy(api, settings, temporal_env, sink)
        crashing = copying(session_factory, smtp, CrashAfterSend(smtp))
        with contextlib.suppress(WorkerKilled):
            await ActivityEnvironment().run(crashing.send_document, request)
        retry = copying(session_factory, smtp, SmtpMailer(smtp))
        result = await ActivityEnvironment().run(retry.send_document, request)
        again = await ActivityEnvironment().run(retry.send_document, request)
    finally:
        sink.stop()
    same_id = f"<invoice-copy.{request.reference}@faktura.example>"
    assert result.status == again.status == "sent"
    delivered = sent_mails(sink, same_id)
    assert len(delivered) == 2  # the one duplicate, with the same Message-ID
    assert len(sink.messages()) == 2
    async with session_factory() as session:
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.message_id == same_id))
        ).scalar_one()
    assert (row.status, row.attempts) == ("sent", 2)


class SlowMailer:
    """A mail that takes a while to go out, so two attempts overlap."""

    def __init__(self, settings: Settings) -> None:
        self.real = SmtpMailer(settings)

    async def send(self, message: Message) -> str:
        await asyncio.sleep(0.5)
        return await self.real.send(message)


async def test_two_attempts_at_the_same_time_send_one_mail(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    """E.g. the contract's and the invoice's workflow after an early booking: the second
    attempt waits for the first and finds the mail sent."""
    sink = MailSink(tmp_path / "mail", port=free_port())
    sink.start()
    try:
        smtp, request = await invoice_copy(api, settings, temporal_env, sink)
        delivery = copying(session_factory, smtp, SlowMailer(smtp))
        results = await asyncio.gather(
            *(ActivityEnvironment().run(delivery.send_document, request) for _ in range(2))
        )
    finally:
        sink.stop()
    assert [result.status for result in results] == ["sent", "sent"]
    assert len(sent_mails(sink, f"<invoice-copy.{request.reference}@faktura.example>")) == 1
    assert len(sink.messages()) == 1


class Unreachable:
    """The mail server refuses every connection (a transient failure, retried)."""

    async def send(self, message: Message) -> str:
        raise ConnectionRefusedError("SMTP down")


async def test_after_the_last_sending_attempt_the_document_goes_by_post(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    catalog: None,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    """Attempts are counted on the outbox row, so only real sending attempts count: in the
    one-step hand-over an activity attempt may also have failed before the mail."""
    sink = MailSink(tmp_path / "mail", port=free_port())
    smtp, request = await invoice_copy(api, settings, temporal_env, sink)
    smtp = smtp.model_copy(update={"smtp_max_attempts": 2})
    delivery = copying(session_factory, smtp, Unreachable())
    steps = ActivityEnvironment()
    steps.info = dataclasses.replace(steps.info, attempt=5)  # earlier failures elsewhere
    with pytest.raises(ConnectionRefusedError):
        await steps.run(delivery.send_document, request)
    posted = await steps.run(delivery.send_document, request)
    assert posted.status == "postal"
    async with session_factory() as session:
        row = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.message_id == posted.message_id)
            )
        ).scalar_one()
        item = (
            await session.execute(select(PostalItem).where(PostalItem.outbox_id == row.id))
        ).scalar_one()
    assert (row.status, row.attempts) == ("postal", 2)
    assert item.reason == "email_failed" and "SMTP down" in (row.last_error or "")
