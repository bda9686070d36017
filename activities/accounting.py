"""The monthly DATEV export: one booking batch per ended month, with every invoice, credit
note and matched bank line that existed at the cutoff and was in no batch before
(domain/accounting.py for the bookings, documents/datev.py for the file).

A batch is written once. What arrives later for an exported month (a bank line matched by
hand weeks after, a statement imported late) goes into the next batch, dated on its first
day (reference §5.3, ACC-03). Months are exported in order, each in one transaction that
also records its entries, so an invoice can be in one batch only, whatever crashes or
runs twice (an advisory lock keeps the CLI and the Schedule apart).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.archive import ArchiveFileWriter
from config import Accounting, Settings
from db.driver import driver_transaction
from db.invoices import CREDIT_NOTE, groups_from_json
from documents.datev import BatchHeader, extf_body, extf_head
from domain.accounting import (
    CHARTS,
    BankMovement,
    Booking,
    ChartOfAccounts,
    IssuedDocument,
    UnmappedTaxCase,
    document_bookings,
    into_period,
    movement_bookings,
)
from domain.calendar import add_months
from workflows.models import AccountingExportInput, AccountingExportResult, ExportedMonth

CHUNK = 2_000  # rows read, booked and written at a time: a month need not fit in memory
ONE_AT_A_TIME = "SELECT pg_advisory_xact_lock(hashtext('faktura-accounting-export'))"

DOCUMENTS = """
    SELECT i.number, i.type_code, i.issue_date, i.due_date, i.service_start, i.buyer, i.oss,
           i.tax_groups, i.preceding_number
    FROM invoice i
    WHERE i.issue_date <= $1 AND i.created_at <= $2
      AND NOT EXISTS (SELECT 1 FROM accounting_entry e WHERE e.source = 'invoice:' || i.number)
    ORDER BY i.issue_date, i.number"""
MOVEMENTS = """
    SELECT p.booking_key, p.invoice_number, l.booking_date, l.amount_cents, l.fee_cents,
           l.counterparty_name, l.return_reason
    FROM payment p JOIN bank_line l ON l.id = p.bank_line_id
    WHERE l.booking_date <= $1 AND p.created_at <= $2
      AND NOT EXISTS (SELECT 1 FROM accounting_entry e WHERE e.source = p.booking_key)
    ORDER BY l.booking_date, l.id"""
EARLIEST = """
    SELECT least(
        (SELECT min(issue_date) FROM invoice WHERE created_at <= $1),
        (SELECT min(l.booking_date) FROM payment p JOIN bank_line l ON l.id = p.bank_line_id
         WHERE p.created_at <= $1 AND $2))"""


def chart_of(accounting: Accounting) -> ChartOfAccounts:
    """The configured chart, with the OSS account and key the tax advisor named."""
    return replace(
        CHARTS[accounting.chart],
        oss_revenue=accounting.oss_revenue_account,
        oss_tax_key=accounting.oss_tax_key,
    )


def last_day(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


class AccountingExporter:
    """Writes the batches; the Schedule's activity and ``faktura accounting export`` use it."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.chart = chart_of(settings.accounting)

    async def export_ended_months(
        self, today: date, cutoff: datetime, progress: Callable[[str], None] | None = None
    ) -> list[ExportedMonth]:
        """Every month that ended before ``today`` and has no batch yet, oldest first;
        ``progress`` hears of each part written (the activity heartbeats with it)."""
        exported = []
        while (month := await self._export_next(today, cutoff, progress)) is not None:
            exported.append(month)
        return exported

    async def _export_next(
        self, today: date, cutoff: datetime, progress: Callable[[str], None] | None
    ) -> ExportedMonth | None:
        async with driver_transaction(self.session_factory) as db:
            await db.execute(ONE_AT_A_TIME)
            month = await self._next_month(db, cutoff)
            if month is None or last_day(month) >= today:
                return None
            return await self._export(db, month, cutoff, progress or (lambda _: None))

    async def _next_month(self, db: asyncpg.Connection, cutoff: datetime) -> date | None:
        latest = await db.fetchval("SELECT max(month) FROM accounting_export")
        if latest is not None:
            return add_months(latest, 1)
        earliest = await db.fetchval(EARLIEST, cutoff, self.settings.accounting.export_payments)
        return earliest.replace(day=1) if earliest else None

    async def _export(
        self,
        db: asyncpg.Connection,
        month: date,
        cutoff: datetime,
        progress: Callable[[str], None],
    ) -> ExportedMonth:
        end = last_day(month)
        path = self.settings.archive_dir / "accounting" / f"{month:%Y}" / f"EXTF-{month:%Y-%m}.csv"
        accounting = self.settings.accounting
        header = BatchHeader(
            consultant=accounting.consultant_number, client=accounting.client_number,
            fiscal_year_start=_fiscal_year_start(month, accounting.fiscal_year_start_month),
            account_length=4, first_day=month, last_day=end,
            title=f"faktura {month:%Y-%m}", created=cutoff, locked=accounting.lock_batches,
            skr=self.chart.skr,
        )  # fmt: skip
        await db.execute(  # first: the entries below refer to it
            "INSERT INTO accounting_export (month, bookings, documents, movements, late, locked,"
            " cutoff, created_at) VALUES ($1, 0, 0, 0, 0, $2, $3, now())",
            month, accounting.lock_batches, cutoff,
        )  # fmt: skip
        out = ArchiveFileWriter(path)
        counts = {"bookings": 0, "documents": 0, "movements": 0, "late": 0}
        try:
            out.write(extf_head(header))
            sources: list[tuple[str, str, Callable[[Any], list[Booking]]]] = [
                ("documents", DOCUMENTS, self._document_bookings)
            ]
            if accounting.export_payments:
                sources.append(("movements", MOVEMENTS, self._movement_bookings))
            for kind, query, book in sources:
                cursor = await db.cursor(query, end, cutoff)
                while rows := await cursor.fetch(CHUNK):
                    for row in rows:
                        bookings = book(row)
                        counts["late"] += any(booking.day < month for booking in bookings)
                        counts["bookings"] += len(bookings)
                        out.write(extf_body([into_period(b, month) for b in bookings], header))
                    counts[kind] += len(rows)
                    progress(f"{month:%Y-%m}: {counts['bookings']} bookings")
                    await db.execute(
                        "INSERT INTO accounting_entry (source, month)"
                        " SELECT unnest($1::text[]), $2",
                        [_source(kind, row) for row in rows], month,
                    )  # fmt: skip
            if counts["bookings"] == 0:
                out.discard()
                sha256, stored = None, None
            else:
                sha256, stored = await asyncio.to_thread(out.keep), str(path)
        except BaseException:
            out.discard()
            raise
        await db.execute(
            "UPDATE accounting_export SET bookings = $2, documents = $3, movements = $4,"
            " late = $5, path = $6, sha256 = $7 WHERE month = $1",
            month, counts["bookings"], counts["documents"], counts["movements"], counts["late"],
            stored, sha256,
        )  # fmt: skip
        return ExportedMonth(
            month=month, bookings=counts["bookings"], late=counts["late"], path=stored
        )

    def _document_bookings(self, row: Any) -> list[Booking]:
        buyer = _json(row["buyer"])
        groups = tuple(groups_from_json(_json(row["tax_groups"])))
        document = IssuedDocument(
            number=row["number"], credit_note=row["type_code"] == CREDIT_NOTE,
            issue_date=row["issue_date"], due_date=row["due_date"],
            service_start=row["service_start"],
            buyer_name=buyer.get("company") or buyer.get("name") or "",
            buyer_country=buyer.get("country") or "", buyer_vat_id=buyer.get("vat_id"),
            oss=row["oss"], groups=groups, corrects=row["preceding_number"],
        )  # fmt: skip
        return document_bookings(document, self.chart)

    def _movement_bookings(self, row: Any) -> list[Booking]:
        movement = BankMovement(
            invoice_number=row["invoice_number"],
            day=row["booking_date"], amount_cents=row["amount_cents"],
            fee_cents=row["fee_cents"], payer=row["counterparty_name"] or "",
            return_reason=row["return_reason"],
        )  # fmt: skip
        return movement_bookings(movement, self.chart)


class AccountingActivities:
    def __init__(self, exporter: AccountingExporter) -> None:
        self.exporter = exporter

    @activity.defn
    async def export_ended_months(self, input: AccountingExportInput) -> AccountingExportResult:
        """The Schedule's monthly run; it heartbeats with every part it writes, so a crashed
        worker's run is retried soon, and the months already exported are not redone.

        A tax case without an account is not retried: the run fails where the Temporal UI
        shows it, and ``faktura accounting export`` catches up once it is configured."""
        try:
            exported = await self.exporter.export_ended_months(
                input.today, input.cutoff, activity.heartbeat
            )
        except UnmappedTaxCase as error:
            raise ApplicationError(str(error), type="InvalidRequest", non_retryable=True) from None
        return AccountingExportResult(exported=exported)


def _source(kind: str, row: Any) -> str:
    return f"invoice:{row['number']}" if kind == "documents" else row["booking_key"]


def _fiscal_year_start(month: date, start_month: int) -> date:
    year = month.year if month.month >= start_month else month.year - 1
    return date(year, start_month, 1)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
