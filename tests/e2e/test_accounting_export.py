"""The monthly DATEV export end to end: invoices, a credit note and a bank payment issued
through the API go into one batch per month, once; what arrives later goes into the next
batch. A database of its own, so the batch holds this test's bookings only. Amounts are
the catalog's prices, added up by hand here."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.accounting import AccountingExporter
from config import Accounting, Settings
from db.driver import driver_connection
from db.migrate import upgrade
from devstack.postgres import EmbeddedPostgres
from domain.accounting import UnmappedTaxCase
from domain.berlin_time import berlin_today
from domain.calendar import add_months
from tests.camt_files import Entry, camt054
from tests.factories import business_body, create_customer, issued, transfer_consumer_body
from tests.helpers import auth, run_and_record
from workflows.accounting import AccountingExportWorkflow
from workflows.models import AccountingExportInput

pytestmark = pytest.mark.usefixtures("catalog", "worker")

MONTH = berlin_today().replace(day=1)
NEXT = add_months(MONTH, 1)
AUSTRIA = {"street": "Ring", "house_number": "1", "postcode": "1010", "city": "Wien",
           "country": "AT"}  # fmt: skip


@pytest.fixture(scope="module")
def database_url(postgres: EmbeddedPostgres) -> str:
    url = postgres.create_database("faktura_accounting")
    upgrade(url)
    return url


@pytest.fixture
def settings(settings: Settings, workdir: Path) -> Settings:
    """The advisor named the OSS account and key (there is no default for them). Number
    series and archive of its own: the numbers of this database start at 1 again, and the
    session's other tests share the Temporal server, where a credit note's workflow is
    named by its number."""
    accounting = Accounting(oss_revenue_account="8320", oss_tax_key="240")
    archive = workdir / "archive-accounting"
    return settings.model_copy(update={
        "accounting": accounting, "archive_dir": archive, "invoice_prefix": "RA",
        "credit_note_prefix": "GA",
    })  # fmt: skip


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("cp1252"), newline=""), delimiter=";"))


def booked(rows: list[list[str]], document: str) -> list[tuple[str, ...]]:
    """(amount, side, account, contra account, tax key, EU field, EU rate) per booking."""
    return [(r[0], r[1], r[6], r[7], r[8], r[39], r[40]) for r in rows[2:] if r[10] == document]


async def entries(factory: async_sessionmaker[AsyncSession]) -> dict[str, date]:
    async with driver_connection(factory) as db:
        return {r["source"]: r["month"] for r in await db.fetch("SELECT * FROM accounting_entry")}


async def import_payment(api: httpx.AsyncClient, number: str, cents: int, day: date) -> None:
    statement = camt054(
        f"N-{uuid.uuid4().hex[:8]}",
        [Entry(cents, day, remittance=f"Rechnung {number}", name="Beispiel GmbH")],
    )
    response = await api.post(
        "/v1/bank-statements", content=statement,
        headers={**auth("finance"), "Content-Type": "application/xml"},
    )  # fmt: skip
    assert response.json()["booked"] == 1, response.text


def files(archive: Path) -> Iterator[Path]:
    return (path for path in (archive / "accounting").rglob("*") if path.is_file())


def read(path: str | None) -> bytes:
    assert path is not None
    return Path(path).read_bytes()


async def test_each_month_is_exported_once_and_what_comes_late_goes_into_the_next(
    api: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    german = await issued(api, await create_customer(api, transfer_consumer_body()))
    austrian_business = await issued(api, await create_customer(
        api, business_body(address=AUSTRIA, vat_id="ATU13585627")))  # fmt: skip
    austrian_consumer = await issued(
        api, await create_customer(api, transfer_consumer_body(address=AUSTRIA))
    )
    credit = await api.post(
        f"/v1/invoices/{german['number']}/credit-notes", json={"reason": "Kulanz"},
        headers=auth("finance"),
    )  # fmt: skip
    assert credit.status_code == 201, credit.text
    note = credit.json()["number"]
    await import_payment(api, austrian_business["number"], 1678, berlin_today())

    # Without the OSS account the advisor names, the Austrian consumer's invoice stops the
    # batch, and nothing of it is kept: no batch, no entry, no file.
    unconfigured = settings.model_copy(update={"accounting": Accounting()})
    with pytest.raises(UnmappedTaxCase, match=austrian_consumer["number"]):
        await AccountingExporter(session_factory, unconfigured).export_ended_months(
            NEXT, datetime.now(UTC)
        )
    assert await entries(session_factory) == {}
    assert list(files(settings.archive_dir)) == []

    # Not before the month has ended; then by the monthly workflow.
    cutoff = datetime.now(UTC)
    early = AccountingExportInput(today=NEXT - timedelta(days=1), cutoff=cutoff)
    assert (await AccountingExporter(session_factory, settings).export_ended_months(
        early.today, cutoff)) == []  # fmt: skip
    result = await run_and_record(
        temporal_env.client, AccountingExportWorkflow.run,
        AccountingExportInput(today=NEXT, cutoff=cutoff), "accounting-export",
        settings.temporal_task_queue,
    )  # fmt: skip
    [month] = result.exported
    assert (month.month, month.bookings, month.late) == (MONTH, 5, 0)
    content = read(month.path)
    rows = rows_of(content)
    last = NEXT - timedelta(days=1)
    assert rows[0][14:16] == [f"{MONTH:%Y%m%d}", f"{last:%Y%m%d}"]  # Datum vom / bis
    # Consumer prices are gross: 9.99 hosting M + 9.99 set-up = 19.98, German 19 % inside.
    assert booked(rows, german["number"]) == [("19,98", "S", "1400", "8400", "", "", "")]
    # The credit note takes the whole invoice back.
    assert booked(rows, note) == [("19,98", "H", "1400", "8400", "", "", "")]
    # A business in Austria: the net list, 8.39 + 8.39 = 16.78, reverse charge, its VAT ID.
    assert booked(rows, austrian_business["number"]) == [
        ("16,78", "S", "1400", "8336", "", "ATU13585627", ""),
        ("16,78", "S", "1200", "1400", "", "", ""),  # and the transfer that paid it
    ]
    # A consumer in Austria: 19.98 gross with Austria's 20 % inside, under OSS.
    assert booked(rows, austrian_consumer["number"]) == [
        ("19,98", "S", "1400", "8320", "240", "AT", "20,00")
    ]
    assert len(rows) == 2 + 5

    # The batch is kept, its entries recorded; a second run exports nothing again.
    assert sorted(await entries(session_factory)) == sorted([
        *(f"invoice:{n}" for n in (german["number"], note, austrian_business["number"],
                                   austrian_consumer["number"])),
        *[s for s in await entries(session_factory) if s.startswith("line:")],
    ])  # fmt: skip
    assert sum(s.startswith("line:") for s in await entries(session_factory)) == 1
    exporter = AccountingExporter(session_factory, settings)
    assert await exporter.export_ended_months(NEXT, datetime.now(UTC)) == []
    assert read(month.path) == content
    async with driver_connection(session_factory) as db:  # and the database holds to that
        for statement in ("UPDATE accounting_export SET bookings = 0",
                          "DELETE FROM accounting_export", "DELETE FROM accounting_entry",
                          "UPDATE accounting_entry SET month = month"):  # fmt: skip
            with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="never"):
                await db.execute(statement)

    # Finance downloads it exactly as written; the CRM may not.
    listed = (await api.get("/v1/accounting/exports", headers=auth("finance"))).json()
    assert [(e["month"], e["bookings"], e["sha256"]) for e in listed] == [
        (f"{MONTH:%Y-%m}", 5, hashlib.sha256(content).hexdigest())
    ]
    download = await api.get(listed[0]["file"], headers=auth("finance"))
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "text/csv; charset=windows-1252"
    assert (await api.get(listed[0]["file"], headers=auth("crm"))).status_code == 403
    assert (await api.get("/v1/accounting/exports/2020-01.csv",
                          headers=auth("finance"))).status_code == 404  # fmt: skip
    for bad in ("2020-13", "0000-01"):
        answer = await api.get(f"/v1/accounting/exports/{bad}.csv", headers=auth("finance"))
        assert answer.status_code == 422, bad

    # A payment booked in the exported month but imported after the export goes into the
    # next month's batch, on its first day, and says its own day.
    paid_on = berlin_today()
    await import_payment(api, austrian_consumer["number"], 1998, paid_on)
    heard: list[str] = []  # the activity heartbeats with it
    [later] = await exporter.export_ended_months(
        add_months(NEXT, 1), datetime.now(UTC), heard.append
    )
    assert heard == [f"{NEXT:%Y-%m}: 1 bookings"]
    assert (later.month, later.bookings, later.late) == (NEXT, 1, 1)
    [row] = rows_of(read(later.path))[2:]
    assert (row[0], row[1], row[6], row[7], row[9], row[10]) == (
        "19,98", "S", "1200", "1400", f"{NEXT:%d%m}", austrian_consumer["number"],
    )  # fmt: skip
    assert row[13].endswith(f"vom {paid_on:%d.%m.%Y}")
    assert read(month.path) == content  # the exported month never changes
    by_month: dict[str, Any] = {}
    for source, in_month in (await entries(session_factory)).items():
        by_month.setdefault(in_month, []).append(source)
    assert {m: len(s) for m, s in by_month.items()} == {MONTH: 5, NEXT: 1}


async def oss_lines(api: httpx.AsyncClient, quarter: str) -> dict[tuple[str, str], list[int]]:
    report = await api.get(f"/v1/accounting/oss?quarter={quarter}", headers=auth("finance"))
    assert report.status_code == 200, report.text
    return {
        (line["country"], line["rate"]): [line["net_cents"], line["vat_cents"], line["invoices"],
                                          line["credit_notes"]]
        for line in report.json()["lines"]
    }  # fmt: skip


async def test_the_oss_figures_of_a_quarter(api: httpx.AsyncClient) -> None:
    """Per country and rate, net and VAT, credit notes subtracted: what the quarterly OSS
    return needs. The figures added by this test, by hand."""
    quarter = f"{MONTH.year}-Q{(MONTH.month - 1) // 3 + 1}"
    before = await oss_lines(api, quarter)
    athens = {**AUSTRIA, "postcode": "10558", "city": "Athen", "country": "GR"}
    austrian = await issued(api, await create_customer(api, transfer_consumer_body(
        address=AUSTRIA)))  # fmt: skip
    await issued(api, await create_customer(api, transfer_consumer_body(address=athens)))
    await issued(api, await create_customer(api, business_body(address=AUSTRIA,
                                                               vat_id="ATU13585627")))  # fmt: skip
    credit = await api.post(
        f"/v1/invoices/{austrian['number']}/credit-notes", json={"reason": "Widerruf"},
        headers=auth("finance"),
    )  # fmt: skip
    assert credit.status_code == 201, credit.text
    after = await oss_lines(api, quarter)
    added = {
        key: [a - b for a, b in zip(value, before.get(key, [0, 0, 0, 0]), strict=True)]
        for key, value in after.items()
    }
    # 19.98 gross each. Austria 20 %: VAT 19.98 * 20 / 120 = 3.33, net 16.65, taken back by
    # the credit note. Greece 24 %: VAT 19.98 * 24 / 124 = 3.867 -> 3.87, net 16.11. The
    # business in Austria is reverse charge, not OSS.
    assert added == {("AT", "20"): [0, 0, 1, 1], ("GR", "24"): [1611, 387, 1, 0]}
    csv_report = await api.get(
        f"/v1/accounting/oss?quarter={quarter}&format=csv", headers=auth("finance")
    )
    assert csv_report.text.splitlines()[0] == (
        "country;rate;net_cents;vat_cents;invoices;credit_notes"
    )
    bad = await api.get("/v1/accounting/oss?quarter=2026-Q5", headers=auth("finance"))
    assert bad.status_code == 422
    assert (await api.get(f"/v1/accounting/oss?quarter={quarter}",
                          headers=auth("crm"))).status_code == 403  # fmt: skip
