"""Delivery of documents: e-mail with an exactly-once effect, postal fallback, print batches.

``send_document`` is the one path for every document (invoices, dunning letters, notices,
cancellation confirmations): an outbox row per (purpose, reference) with a deterministic
Message-ID decides whether a mail was already accepted.

The remaining at-least-once window: the SMTP server accepted the message but the worker
died before the outbox row was marked ``sent`` (milliseconds). The retry then sends again
with the same Message-ID, which receiving systems use to drop the duplicate.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from email.message import Message
from pathlib import Path
from typing import Protocol

import aiosmtplib
import asyncpg
from pypdf import PdfWriter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.archive import write_all_once
from activities.collection import letter_path
from activities.invoicing import InvoiceActivities
from config import Settings, SmtpSecurity
from db.contracts import latest_version
from db.driver import driver_transaction
from db.invoices import buyer_snapshot
from db.models import (
    Cancellation,
    Contract,
    Customer,
    InvoiceDocument,
    PostalItem,
    PrintBatch,
    Product,
    SepaDebit,
)
from documents.letters import CancellationLetter, render_cancellation_letter
from documents.mail import (
    MailContent,
    build_message,
    cancellation_mail,
    dunning_mail,
    envelope,
    invoice_mail,
    message_id,
    notice_mail,
    wire_bytes,
)
from workflows.models import (
    DeliveryChannel,
    DeliveryResult,
    PrintBatchInput,
    PrintBatchResult,
    SendDocumentInput,
)


class PermanentDeliveryError(Exception):
    """The mail system refused the message for good (5xx): no retry will help."""


class Mailer(Protocol):
    async def send(self, message: Message) -> str:
        """Hand the message to the SMTP server; return its reply. Raises
        ``PermanentDeliveryError`` for 5xx refusals, anything else is transient."""
        ...


class SmtpMailer:
    """aiosmtplib with STARTTLS, implicit TLS and AUTH as the settings say.

    Connections stay open for the next mail (one per concurrent send, idle ones for at most
    ``IDLE_SECONDS``): connecting, EHLO, TLS and AUTH for every mail cost both sides more
    than the mail. A connection that failed in any way is closed, never reused."""

    IDLE_SECONDS = 20.0
    MAX_IDLE = 10

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []

    async def send(self, message: Message) -> str:
        client: aiosmtplib.SMTP | None = None
        try:
            client = await self._checkout()
            sender, recipients = envelope(message)
            utf8 = not (sender.isascii() and all(address.isascii() for address in recipients))
            if utf8 and not client.supports_extension("smtputf8"):
                raise PermanentDeliveryError(
                    "the mail server does not offer SMTPUTF8, which a non-ASCII address needs"
                )
            _, reply = await client.sendmail(
                sender,
                recipients,
                wire_bytes(message, utf8=utf8),
                mail_options=["SMTPUTF8"] if utf8 else [],
            )
        except BaseException as error:
            if client is not None:
                client.close()
            raise _classified(error) from None
        self._checkin(client)
        return reply

    async def _checkout(self) -> aiosmtplib.SMTP:
        """A connected client: the most recently used idle one, or a new connection."""
        while self._idle:
            used_at, client = self._idle.pop()
            if client.is_connected and time.monotonic() - used_at < self.IDLE_SECONDS:
                return client
            client.close()
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_security is SmtpSecurity.TLS,
            start_tls=s.smtp_security is SmtpSecurity.STARTTLS,
            timeout=s.smtp_timeout_seconds,
            cert_bundle=str(s.smtp_ca_file) if s.smtp_ca_file else None,
        )
        try:
            await client.connect()  # with STARTTLS and AUTH as configured
        except BaseException:
            client.close()
            raise
        return client

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self.MAX_IDLE:
            self._idle.append((time.monotonic(), client))
        else:
            client.close()


def _classified(error: BaseException) -> BaseException:
    """A 5xx refusal (of every recipient, of AUTH, of the message) is final; anything else
    may pass when Temporal retries."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        if all(refused.code >= 500 for refused in error.recipients):
            return PermanentDeliveryError(str(error.recipients[0]))
    elif isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500:
        return PermanentDeliveryError(f"{error.code} {error.message}")
    return error


# (session, purpose, reference) -> the mail and the PDF that goes to print instead
Composer = Callable[[AsyncSession, str, str], Awaitable[tuple[MailContent, Path]]]


class DeliveryActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        mailer: Mailer,
        invoices: InvoiceActivities,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.mailer = mailer
        # purpose -> how to build its mail and which PDF goes to print
        self.composers: dict[str, Composer] = {
            "invoice": self._compose_invoice,
            "dunning": self._compose_dunning,
            "notice": self._compose_notice,
            "cancellation": self._compose_cancellation,
        }
        self.invoices = invoices

    async def _compose_dunning(
        self, session: AsyncSession, purpose: str, number: str
    ) -> tuple[MailContent, Path]:
        """A dunning letter (``dunning:<step>``), prepared by the collection activities."""
        step = purpose.split(":", 1)[1]
        invoice, doc = await self.invoices.load_doc(session, number)
        path = letter_path(self.settings.archive_dir, number, step)
        return dunning_mail(doc, step, path.read_bytes()), path

    async def _compose_notice(
        self, session: AsyncSession, purpose: str, number: str
    ) -> tuple[MailContent, Path]:
        """Return-debit notices: ``notice:represent`` (a new pre-notification for the second
        presentation) and ``notice:new_mandate`` (pay by transfer, send a new mandate)."""
        kind = purpose.split(":", 1)[1]
        invoice, doc = await self.invoices.load_doc(session, number)
        debit = None
        if kind == "represent":
            debit = (
                await session.execute(
                    select(SepaDebit)
                    .where(SepaDebit.invoice_number == number)
                    .order_by(SepaDebit.attempt.desc())
                    .limit(1)
                )
            ).scalar_one()
        pdf = Path(
            (
                await session.execute(
                    select(InvoiceDocument.path).where(
                        InvoiceDocument.invoice_id == invoice.id, InvoiceDocument.kind == "pdf"
                    )
                )
            ).scalar_one()
        )
        return notice_mail(doc, kind, debit), pdf

    async def _compose_cancellation(
        self, session: AsyncSession, purpose: str, contract_id: str
    ) -> tuple[MailContent, Path]:
        """The §312k BGB confirmation of a contract's cancellation, as recorded; the letter
        is archived once (cancellations/<contract>.pdf) and goes to print instead."""
        cancellation = await session.get(Cancellation, uuid.UUID(contract_id))
        assert cancellation is not None, f"no cancellation recorded for contract {contract_id}"
        contract = await session.get(Contract, cancellation.contract_id)
        assert contract is not None
        customer = await session.get(Customer, contract.customer_id)
        assert customer is not None
        letter = CancellationLetter(
            contract_reference=contract.crm_reference,
            kind=cancellation.kind,
            received_at=cancellation.received_at,
            end_date=cancellation.end_date,
            reason=cancellation.reason,
            items=await _covered(session, contract.id),
            recorded_at=cancellation.recorded_at,
            seller=self.settings.seller.model_dump(),
            buyer=buyer_snapshot(customer),
            by_provider=cancellation.by_provider,
        )
        path = self.settings.archive_dir / "cancellations" / f"{contract_id}.pdf"
        if path.exists():
            pdf = path.read_bytes()
        else:
            pdf = render_cancellation_letter(letter)
            write_all_once({path: pdf})
        return cancellation_mail(letter, pdf), path

    async def _compose_invoice(
        self, session: AsyncSession, purpose: str, number: str
    ) -> tuple[MailContent, Path]:
        rendered = self.invoices.just_rendered(number)
        if rendered is not None:  # rendered a moment ago by this process: no second load
            contents = rendered.contents
            mail = invoice_mail(rendered.doc, contents["pdf"], contents.get("xrechnung"))
            return mail, rendered.paths["pdf"]
        invoice, doc = await self.invoices.load_doc(session, number)
        documents = {
            d.kind: Path(d.path)
            for d in (
                await session.execute(
                    select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice.id)
                )
            ).scalars()
        }
        xrechnung = documents["xrechnung"].read_bytes() if "xrechnung" in documents else None
        return invoice_mail(doc, documents["pdf"].read_bytes(), xrechnung), documents["pdf"]

    @activity.defn
    async def send_document(self, input: SendDocumentInput) -> DeliveryResult:
        """Deliver once: by e-mail, or by post when the customer chose it or e-mail failed."""
        compose = self.composers[input.purpose.split(":", 1)[0]]
        msgid = message_id(input.purpose, input.reference, self.settings.mail_from)
        async with self.session_factory() as session:  # connects only if the composer reads
            content, pdf_path = await compose(session, input.purpose, input.reference)
        async with driver_transaction(self.session_factory) as db:
            customer = await db.fetchrow(CUSTOMER, uuid.UUID(input.customer_id))
            assert customer is not None
            row = await db.fetchrow(
                "INSERT INTO outbox_message (purpose, reference, customer_id, message_id,"
                " recipient, subject, status, attempts, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, now())"
                f" ON CONFLICT DO NOTHING RETURNING {OUTBOX}",
                input.purpose, input.reference, customer["id"], msgid, content.recipient,
                content.subject,
            ) or await _locked_row(db, msgid)  # fmt: skip
            if row["status"] in ("sent", "postal"):
                return _result(row)
            if customer["invoice_channel"] == "postal":
                return await _to_post(db, row, customer, pdf_path, "customer_chose_postal")
            await db.execute(
                "UPDATE outbox_message SET status = 'sending', attempts = attempts + 1"
                " WHERE id = $1", row["id"]
            )  # fmt: skip
        message = build_message(
            content, sender=self.settings.mail_from, msgid=msgid, now=datetime.now(UTC)
        )
        # The row stays locked while the mail goes out: a concurrent attempt for the same
        # document (the contract's and the invoice's workflow racing after an early
        # booking) waits here and then finds it sent.
        async with driver_transaction(self.session_factory) as db:
            row = await _locked_row(db, msgid)
            if row["status"] in ("sent", "postal"):
                return _result(row)
            try:
                reply = await self.mailer.send(message)
            except PermanentDeliveryError as refused:
                return await _post_instead(
                    db, row, customer, pdf_path, "email_rejected", str(refused)
                )
            except Exception as error:
                detail = f"{type(error).__name__}: {error}"
                # the row counts real sending attempts (not failures of steps before it)
                if row["attempts"] >= self.settings.smtp_max_attempts:
                    return await _post_instead(db, row, customer, pdf_path, "email_failed", detail)
                await db.execute(
                    "UPDATE outbox_message SET last_error = $2 WHERE id = $1",
                    row["id"], detail[:500],
                )  # fmt: skip
                failure = error
            else:
                return _result(await db.fetchrow(
                    "UPDATE outbox_message SET status = 'sent', smtp_reply = $2, sent_at = now()"
                    f" WHERE id = $1 RETURNING {OUTBOX}", row["id"], reply[:500]
                ))  # fmt: skip
        raise failure  # retried by Temporal; the error is recorded on the row

    @activity.defn
    async def build_print_batch(self, input: PrintBatchInput) -> PrintBatchResult:
        """All postal items queued until ``day`` into one PDF and a CSV manifest (once per day)."""
        async with self.session_factory() as session, session.begin():
            existing = await session.get(PrintBatch, input.day)
            if existing is not None:
                return PrintBatchResult(
                    day=input.day, items=existing.items, pdf_path=existing.pdf_path
                )
            items = (
                (
                    await session.execute(
                        select(PostalItem)
                        .where(PostalItem.batch_date.is_(None))
                        .order_by(PostalItem.id)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not items:
                return PrintBatchResult(day=input.day, items=0, pdf_path=None)
            folder = self.settings.archive_dir / "print" / f"{input.day:%Y/%m}"
            pdf, manifest = _merge(items, input.day)
            pdf_path = folder / f"print-{input.day.isoformat()}.pdf"
            manifest_path = folder / f"print-{input.day.isoformat()}.csv"
            write_all_once({pdf_path: pdf, manifest_path: manifest})
            for item in items:
                item.batch_date = input.day
            session.add(
                PrintBatch(batch_date=input.day, pdf_path=str(pdf_path),
                           manifest_path=str(manifest_path), items=len(items),
                           sha256=hashlib.sha256(pdf).hexdigest())
            )  # fmt: skip
            return PrintBatchResult(day=input.day, items=len(items), pdf_path=str(pdf_path))


async def _covered(session: AsyncSession, contract_id: uuid.UUID) -> list[str]:
    """What the contract covers, as the customer knows it: "Webhosting M (beispiel.de)"."""
    items = (await latest_version(session, contract_id)).items
    codes = {item["product_code"] for item in items}
    rows = await session.execute(select(Product.code, Product.name).where(Product.code.in_(codes)))
    names: dict[str, str] = dict(rows.all())  # type: ignore[arg-type]  # (code, name) rows
    return [
        names.get(item["product_code"], item["product_code"])
        + (f" ({item['domain']})" if item.get("domain") else "")
        for item in items
    ]


OUTBOX = "id, message_id, recipient, status, attempts, smtp_reply"
CUSTOMER = (
    "SELECT id, invoice_channel, company, name, street, house_number, postcode, city, country"
    " FROM customer WHERE id = $1"
)


async def _locked_row(db: asyncpg.Connection, msgid: str) -> asyncpg.Record:
    """The outbox row, locked (a new row is locked by the inserting transaction)."""
    return await db.fetchrow(
        f"SELECT {OUTBOX} FROM outbox_message WHERE message_id = $1 FOR UPDATE", msgid
    )


async def _post_instead(
    db: asyncpg.Connection,
    row: asyncpg.Record,
    customer: asyncpg.Record,
    pdf_path: Path,
    reason: str,
    detail: str,
) -> DeliveryResult:
    """E-mail failed for good: post the document and flag the customer for support."""
    await db.execute(
        "UPDATE outbox_message SET last_error = $2 WHERE id = $1", row["id"], detail[:500]
    )
    await db.execute(
        "INSERT INTO customer_flag (customer_id, flag, detail, created_at)"
        " VALUES ($1, 'email_bounced', $2, now()) ON CONFLICT DO NOTHING",
        customer["id"], f"{row['recipient']}: {detail}"[:500],
    )  # fmt: skip
    return await _to_post(db, row, customer, pdf_path, reason)


async def _to_post(
    db: asyncpg.Connection,
    row: asyncpg.Record,
    customer: asyncpg.Record,
    pdf_path: Path,
    reason: str,
) -> DeliveryResult:
    address = [
        line
        for line in (
            customer["company"],
            customer["name"],
            f"{customer['street']} {customer['house_number']}",
            f"{customer['postcode']} {customer['city']}",
            customer["country"] if customer["country"] != "DE" else None,
        )
        if line
    ]
    await db.execute(
        "INSERT INTO postal_item (outbox_id, document_path, address, reason, queued_at)"
        " VALUES ($1, $2, $3::text::jsonb, $4, now()) ON CONFLICT DO NOTHING",
        row["id"], str(pdf_path), json.dumps(address), reason,
    )  # fmt: skip
    return _result(await db.fetchrow(
        f"UPDATE outbox_message SET status = 'postal' WHERE id = $1 RETURNING {OUTBOX}", row["id"]
    ))  # fmt: skip


def _result(row: asyncpg.Record) -> DeliveryResult:
    channel = DeliveryChannel.EMAIL if row["status"] == "sent" else DeliveryChannel.POSTAL
    return DeliveryResult(channel=channel, message_id=row["message_id"], status=row["status"],
                          smtp_reply=row["smtp_reply"])  # fmt: skip


def _merge(items: list[PostalItem], day: date) -> tuple[bytes, bytes]:
    """One PDF with every document (each starting on a new sheet) and its manifest."""
    writer = PdfWriter()
    rows = io.StringIO()
    manifest = csv.writer(rows, delimiter=";")
    manifest.writerow(["position", "document", "first_page", "pages", "reason", "address"])
    for position, item in enumerate(items, start=1):
        first = len(writer.pages) + 1
        writer.append(item.document_path)
        pages = len(writer.pages) - first + 1
        if pages % 2:  # duplex printing: the next letter starts on a fresh sheet
            writer.add_blank_page()
        manifest.writerow(
            [position, Path(item.document_path).name, first, pages, item.reason,
             " | ".join(item.address)]
        )  # fmt: skip
    writer.add_metadata({"/Title": f"Print batch {day.isoformat()}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), rows.getvalue().encode()
