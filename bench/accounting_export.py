"""The monthly DATEV export at the model hoster's size: time, CPU and memory.

    .venv/bin/python bench/accounting_export.py [N]      # default 200,000 invoices

Seeds N invoices issued last month on its own embedded Postgres (every 10th to a business
in Austria, reverse charge; every 25th to a consumer in Austria, OSS), and a matched bank
payment for 80 % of them, then exports the month once (activities/accounting.py) and prints
wall time, bookings per second, this process's CPU and peak memory, and the file's size.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.accounting import AccountingExporter  # noqa: E402
from config import Accounting, Settings  # noqa: E402
from db.catalog import load_catalog, read_catalog_file  # noqa: E402
from db.driver import driver_transaction  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from devstack.scratch import scratch_database  # noqa: E402
from domain.berlin_time import berlin_today  # noqa: E402
from domain.calendar import add_months  # noqa: E402
from workflows.models import ExportedMonth  # noqa: E402

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "catalog" / "demo.yaml"
GROUPS = {  # (buyer, category, tax groups) per kind of invoice
    "de": ('{"name": "Erika Musterfrau", "country": "DE"}', "S", "19", 1679, 319),
    "rc": ('{"company": "Beispiel GmbH", "country": "AT", "vat_id": "ATU13585627"}', "AE", "0",
           1678, 0),
    "oss": ('{"name": "Max Muster", "country": "AT"}', "S", "20", 1665, 333),
}  # fmt: skip
SEED = [  # one statement per table, in SQL: seconds, not hours
    "INSERT INTO customer (id, crm_reference, kind, name, street, house_number, postcode, city,"
    " country, email, language, payment_method, invoice_channel, price_list_code,"
    " request_fingerprint, created_at)"
    " SELECT gen_random_uuid(), 'C-' || g, 'consumer', 'B', 'S', '1', '10115', 'Berlin', 'DE',"
    " 'a@example.org', 'de', 'bank_transfer', 'email', (SELECT code FROM price_list LIMIT 1),"
    " 'bench', now() FROM generate_series(1, $1) g",
    "INSERT INTO contract (id, crm_reference, customer_id, start_date, concluded_on, status,"
    " request_fingerprint, created_at) SELECT gen_random_uuid(), 'K-' || crm_reference, id,"
    " current_date, current_date, 'active', 'bench', now() FROM customer",
]
INVOICES = """
    INSERT INTO invoice (number, type_code, contract_id, customer_id, issue_date, due_date,
        service_start, service_end, currency, net_cents, tax_cents, gross_cents, tax_category,
        oss, tax_groups, prices_include_vat, buyer, payment, created_at)
    SELECT 'RE-2026-' || lpad(n::text, 7, '0'), '380', id, customer_id, day, day + 14, day,
        day + 30, 'EUR', basis, tax, basis + tax, category, kind = 'oss',
        jsonb_build_array(jsonb_build_object('category', category, 'rate', rate,
                                             'basis_cents', basis, 'tax_cents', tax)),
        true, buyer::jsonb, '{}', now()
    FROM (SELECT c.id, c.customer_id, row_number() OVER () AS n,
                 $1::date + ((row_number() OVER ()) % $2)::int AS day,
                 CASE WHEN row_number() OVER () % 25 = 0 THEN 'oss'
                      WHEN row_number() OVER () % 10 = 0 THEN 'rc' ELSE 'de' END AS kind
          FROM contract c) s
    JOIN (VALUES {values}) AS g(kind, buyer, category, rate, basis, tax) USING (kind)"""
PAYMENTS = [
    "INSERT INTO bank_statement (id, kind, account_iban, sha256, imported_by, imported_at)"
    " VALUES ('bench', 'camt.054', 'DE89370400440532013000', 'x', 'bench', now())",
    "INSERT INTO receivable (invoice_number, customer_id, contract_id, amount_cents, paid_cents,"
    " due_date, status, disputed, updated_at) SELECT number, customer_id, contract_id,"
    " gross_cents, 0, due_date, 'open', false, now() FROM invoice",
    "INSERT INTO bank_line (statement_id, entry_ref, amount_cents, booking_date,"
    " counterparty_name, fee_cents, status, invoice_number, matched_by)"
    " SELECT 'bench', number, gross_cents, least(issue_date + 5, $1::date), 'Erika Musterfrau',"
    " 0, 'matched', number, 'remittance' FROM invoice WHERE right(number, 1) NOT IN ('0', '5')",
    "INSERT INTO payment (booking_key, invoice_number, kind, amount_cents, booked_on,"
    " bank_line_id, fee_cents, created_at) SELECT 'line:' || id, invoice_number, 'transfer',"
    " amount_cents, booking_date, id, 0, now() FROM bank_line",
    "ANALYZE",
]


async def seed(factory, n: int) -> None:  # noqa: ANN001
    first = add_months(berlin_today().replace(day=1), -1)
    days = (berlin_today().replace(day=1) - first).days
    values = ", ".join(
        f"('{kind}', '{buyer}', '{category}', '{rate}', {basis}, {tax})"
        for kind, (buyer, category, rate, basis, tax) in GROUPS.items()
    )
    async with factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
    async with driver_transaction(factory) as db:
        await db.execute(SEED[0], n)
        await db.execute(SEED[1])
        await db.execute(INVOICES.replace("{values}", values), first, days)
        await db.execute(PAYMENTS[0])
        await db.execute(PAYMENTS[1])
        await db.execute(PAYMENTS[2], berlin_today().replace(day=1) - timedelta(days=1))
        for statement in PAYMENTS[3:]:
            await db.execute(statement)


async def measure(url: str, n: int, archive: Path) -> tuple[ExportedMonth, float, float]:
    """The export's wall time and this process's CPU for it."""
    engine = make_engine(url, pool_size=2)
    factory = make_session_factory(engine)
    began = time.perf_counter()
    await seed(factory, n)
    print(f"{n} invoices and their payments seeded in {time.perf_counter() - began:.0f} s")
    settings = Settings(
        _env_file=None, archive_dir=archive,
        accounting=Accounting(oss_revenue_account="8320", oss_tax_key="240"),
    )  # fmt: skip
    exporter = AccountingExporter(factory, settings)
    cpu, began = time.process_time(), time.perf_counter()
    [month] = await exporter.export_ended_months(berlin_today(), datetime.now(UTC))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    # The next month has nothing new: what is left is looking past everything exported.
    began = time.perf_counter()
    [empty] = await exporter.export_ended_months(
        add_months(berlin_today().replace(day=1), 1), datetime.now(UTC)
    )
    print(f"the month after, with nothing new: {time.perf_counter() - began:.1f} s"
          f" ({empty.bookings} bookings)")  # fmt: skip
    await engine.dispose()
    return month, wall, cpu


def report(month: ExportedMonth, wall: float, cpu: float) -> None:
    assert month.path is not None
    size = os.path.getsize(month.path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"month {month.month:%Y-%m}: {month.bookings} bookings")
    print(f"wall time            {wall:.1f} s ({month.bookings / wall:,.0f} bookings/s)")
    print(f"this process's CPU   {cpu:.1f} s ({cpu / month.bookings * 1e6:.0f} µs per booking)")
    print(f"peak RSS             {peak:.0f} MB (the whole process, seeding included)")
    print(f"file                 {size / 1e6:.1f} MB ({size / month.bookings:.0f} bytes per line)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with (
        scratch_database("faktura-accounting-") as url,
        tempfile.TemporaryDirectory(prefix="faktura-accounting-archive-") as archive,
    ):
        report(*asyncio.run(measure(url, n, Path(archive))))


if __name__ == "__main__":
    main()
