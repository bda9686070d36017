"""The billing chain under load: N contracts due now -> invoice, PDF + XML, e-mail, debit,
SEPA file. A first cut of the reference-day benchmark (issue 8); prints figures.

    .venv/bin/python bench/chain.py --contracts 300

Runs its own embedded Postgres, Temporal dev server (SQLite, WAL) and SMTP sink in a
temporary directory; the worker runs in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from api.workflow_starts import start_contract_workflow  # noqa: E402
from cli import DEMO_CATALOG  # noqa: E402
from config import Settings  # noqa: E402
from db.catalog import load_catalog, read_catalog_file  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Contract, ContractVersion, Customer, OutboxMessage, SepaDebit  # noqa: E402
from devstack.postgres import EmbeddedPostgres  # noqa: E402
from devstack.processes import free_port  # noqa: E402
from devstack.smtp_sink import MailSink  # noqa: E402
from devstack.temporal import TemporalDevServer  # noqa: E402
from domain.calendar import add_months  # noqa: E402
from temporal_client import connect  # noqa: E402
from worker import running_worker  # noqa: E402
from workflows.models import SepaBatchInput  # noqa: E402
from workflows.print_batch import SepaBatchWorkflow  # noqa: E402

IBAN = "DE02120300000000202051"


def customers_and_contracts(n: int, start: date) -> tuple[list[dict], list[dict], list[dict]]:
    """80 % SEPA, 20 % transfer; every 4th a business, every 25th in Austria (reverse charge);
    every 3rd contract has a yearly domain as well as the monthly package."""
    customers, contracts, versions = [], [], []
    for i in range(n):
        business = i % 4 == 0
        austria = i % 25 == 0
        sepa = i % 5 != 0
        cid, kid = uuid.uuid4(), uuid.uuid4()
        customers.append({
            "id": cid, "crm_reference": f"B-C-{cid.hex[:12]}", "kind": "business" if business else "consumer",
            "name": f"Kunde {i}", "company": f"Firma {i} GmbH" if business else None,
            "street": "Hauptstraße", "house_number": str(i % 200 + 1), "postcode": "1010" if austria else "10115",
            "city": "Wien" if austria else "Berlin", "country": "AT" if austria else "DE",
            "email": f"kunde{i}@example.org", "language": "de",
            "vat_id": "ATU13585627" if austria and business else ("DE136695976" if business else None),
            "payment_method": "sepa_direct_debit" if sepa else "bank_transfer",
            "iban": IBAN if sepa else None, "bic": "BYLADEM1001" if sepa else None,
            "mandate_reference": f"BM-{cid.hex[:20]}" if sepa else None,
            "mandate_signed_on": date(2025, 1, 15) if sepa else None,
            "invoice_channel": "email", "buyer_reference": None,
            "price_list_code": "business" if business else "consumer-de", "request_fingerprint": "bench",
        })  # fmt: skip
        items = [{"product_code": "hosting-m-monthly", "quantity": 1, "domain": f"kunde{i}.de"}]
        if i % 3 == 0:
            items.append({"product_code": "domain-de", "quantity": 1, "domain": f"kunde{i}.de"})
        contracts.append({
            "id": kid, "crm_reference": f"B-K-{kid.hex[:12]}", "customer_id": cid, "start_date": start,
            "concluded_on": start, "status": "pending", "request_fingerprint": "bench",
        })  # fmt: skip
        versions.append({
            "contract_id": kid, "version": 1, "valid_from": start, "items": items,
            "minimum_term_end": add_months(start, 12 if i % 3 == 0 else 1), "notice_period": "P1M",
            "renewal_period": "P1M", "reason": "created", "recorded_by": "bench",
        })  # fmt: skip
    return customers, contracts, versions


def process_stats(process: psutil.Process, children: bool = True) -> tuple[float, float]:
    """CPU seconds and RSS (MB) of a process (and its children: Postgres backends)."""
    cpu, rss = 0.0, 0.0
    for p in [process, *(process.children(recursive=True) if children else [])]:
        try:
            times = p.cpu_times()
            cpu += times.user + times.system
            rss += p.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return cpu, rss


async def run(n: int, concurrency: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="faktura-bench-"))
    postgres = EmbeddedPostgres(work / "pg", free_port())
    postgres.start(work / "pg.log")
    temporal = TemporalDevServer(work / "temporal.sqlite", free_port(), free_port())
    temporal.start(work / "temporal.log")
    sink = MailSink(work / "mail", port=free_port())
    sink.start()
    try:
        url = postgres.url()
        await asyncio.to_thread(upgrade, url)
        settings = Settings(
            _env_file=None, database_url=url, temporal_address=temporal.address,
            smtp_port=sink.port, archive_dir=work / "archive", db_pool_size=20,
        )  # fmt: skip
        engine = make_engine(url, 20)
        factory = make_session_factory(engine)
        start = date.today().replace(day=1)
        customers, contracts, versions = customers_and_contracts(n, start)
        async with factory() as session, session.begin():
            await load_catalog(session, read_catalog_file(DEMO_CATALOG))
            await session.execute(Customer.__table__.insert(), customers)
            await session.execute(Contract.__table__.insert(), contracts)
            await session.execute(ContractVersion.__table__.insert(), versions)
        client = await connect(settings)
        me, pg_proc = psutil.Process(), psutil.Process(postgres.process.pid)  # type: ignore[union-attr]
        tp_proc = psutil.Process(temporal.process.pid)  # type: ignore[union-attr]
        parts = (("worker", me, False), ("temporal", tp_proc, True), ("postgres", pg_proc, True))
        before = {name: process_stats(p, kids)[0] for name, p, kids in parts}
        started = time.monotonic()
        async with running_worker(settings, client):
            semaphore = asyncio.Semaphore(concurrency)
            rows = [Contract(**c) for c in contracts]

            async def start_one(contract: Contract) -> None:
                async with semaphore:
                    await start_contract_workflow(client, settings.temporal_task_queue, contract)

            await asyncio.gather(*[start_one(c) for c in rows])
            peak = {"worker": 0.0, "temporal": 0.0, "postgres": 0.0}
            while True:
                async with factory() as session:
                    sent = (await session.execute(
                        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
                    )).scalar_one()  # fmt: skip
                    debits = (
                        await session.execute(select(func.count()).select_from(SepaDebit))
                    ).scalar_one()
                for name, proc, kids in parts:
                    peak[name] = max(peak[name], process_stats(proc, kids)[1])
                bar = "#" * int(40 * sent / n)
                print(f"\r[{bar:<40}] {sent}/{n} mailed, {debits} debits", end="", flush=True)
                if sent >= n and debits >= sum(1 for c in customers if c["iban"]):
                    break
                await asyncio.sleep(1)
            async with factory() as session:  # the file is built the business day before
                first = (
                    await session.execute(select(func.min(SepaDebit.collection_date)))
                ).scalar_one()
            batch = await client.execute_workflow(
                SepaBatchWorkflow.run, SepaBatchInput(day=first - timedelta(days=1)),
                id=f"bench-sepa-{uuid.uuid4()}",
                task_queue=settings.temporal_task_queue,
            )  # fmt: skip
            wall = time.monotonic() - started
        async with factory() as session:
            latencies = (await session.execute(text(
                "SELECT EXTRACT(EPOCH FROM o.sent_at - c.created_at) FROM outbox_message o "
                "JOIN invoice i ON i.number = o.reference JOIN contract c ON c.id = i.contract_id "
                "WHERE o.status = 'sent'"
            ))).scalars().all()  # fmt: skip
            sizes = (
                await session.execute(text("SELECT pg_database_size(current_database())"))
            ).scalar_one()
        await engine.dispose()
        after = {name: process_stats(p, kids)[0] for name, p, kids in parts}
        lat = sorted(float(x) for x in latencies)
        print()
        print(f"contracts/invoices      {n}")
        print(f"wall time               {wall:.1f} s")
        print(f"invoices per second     {n / wall:.1f}")
        print(f"due-to-mail latency     p50 {statistics.median(lat):.1f} s, "
              f"p95 {lat[int(len(lat) * 0.95) - 1]:.1f} s")  # fmt: skip
        print(f"SEPA file               {batch.transactions} debits in {batch.batch_id}")
        for name in ("worker", "temporal", "postgres"):
            print(
                f"{name:<10} CPU {after[name] - before[name]:7.1f} s   peak RSS {peak[name]:7.0f} MB"
            )
        print(f"Postgres DB size        {sizes / 2**20:.0f} MB; Temporal SQLite "
              f"{(work / 'temporal.sqlite').stat().st_size / 2**20:.0f} MB")  # fmt: skip
    finally:
        sink.stop()
        temporal.stop()
        postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50, help="parallel workflow starts")
    options = parser.parse_args()
    asyncio.run(run(options.contracts, options.concurrency))


if __name__ == "__main__":
    main()
