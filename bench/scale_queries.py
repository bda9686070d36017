"""The questions that run often against tables as large as the model hoster's, timed.

    .venv/bin/python bench/scale_queries.py [--customers N]

Seeds N customers (default 1,000,000), each with an account, a mandate on it, a contract
whose workflow has started (its outbox row kept) and an invoice with its receivable (1 in
20 open), on an embedded Postgres of its own. Then it times, as the code asks them:

* one round of the API's relay (api/relays.py), every 2 s in each API process: workflow
  starts and booking notices still to deliver (none are due);
* what /healthz asks the database: what waits for Temporal (db/backlog.py);
* a page of the hourly collection sweep (db/collection_starts.py ``due``; each invoice has
  its collection start row, pending while open);
* matching a bank line that no rule matches, so the last rule, the payer's IBAN among the
  customers' accounts and mandates, is tried (db/receivables.py ``match``);
* what an invoice's credit notes have credited so far, asked when a credit note is made
  (db/invoices.py ``credited_net_cents``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.collection_starts import PAGE  # noqa: E402
from api.workflow_starts import LEFT_AFTER, start_pending  # noqa: E402
from cli import DEMO_CATALOG  # noqa: E402
from db.backlog import backlog  # noqa: E402
from db.catalog import load_catalog, read_catalog_file  # noqa: E402
from db.collection_starts import due  # noqa: E402
from db.driver import driver_connection, driver_transaction  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.invoices import credited_net_cents  # noqa: E402
from db.models import BankLine  # noqa: E402
from db.receivables import match  # noqa: E402
from devstack.scratch import scratch_database  # noqa: E402
from temporal_client import relay_bookings  # noqa: E402
from workflows.collection_starts import LOOKAHEAD  # noqa: E402

RUNS = 50
SEED = [  # one statement per table, in SQL: seconds, not hours
    "INSERT INTO customer (id, crm_reference, kind, name, street, house_number, postcode, city,"
    " country, email, language, payment_method, iban, mandate_reference, invoice_channel,"
    " price_list_code, request_fingerprint, created_at)"
    " SELECT gen_random_uuid(), 'C-' || g, 'consumer', 'B', 'S', '1', '10115', 'Berlin', 'DE',"
    " 'a@example.org', 'de', 'sepa_direct_debit', 'DE' || lpad(g::text, 20, '0'), 'M-' || g,"
    " 'email', (SELECT code FROM price_list LIMIT 1), 'bench', now()"
    " FROM generate_series(1, $1) g",
    "INSERT INTO sepa_mandate (reference, customer_id, iban, signed_on, status)"
    " SELECT mandate_reference, id, iban, current_date, 'active' FROM customer",
    "INSERT INTO contract (id, crm_reference, customer_id, start_date, concluded_on, status,"
    " request_fingerprint, created_at) SELECT gen_random_uuid(), 'K-' || crm_reference, id,"
    " current_date, current_date, 'active', 'bench', now() FROM customer",
    "INSERT INTO workflow_start (workflow_id, contract_id, created_at, started_at, attempts)"
    " SELECT 'contract-' || id, id, created_at, now(), 1 FROM contract",
    "INSERT INTO receivable (invoice_number, customer_id, contract_id, amount_cents, paid_cents,"
    " due_date, status, disputed, updated_at)"
    " SELECT 'RE-2026-' || lpad(row_number() OVER ()::text, 7, '0'), customer_id, id, 1299,"
    " CASE WHEN random() < 0.05 THEN 0 ELSE 1299 END, current_date, 'open', false, now()"
    " FROM contract",
    "UPDATE receivable SET status = 'paid' WHERE paid_cents > 0",
    # every invoice was handed over: settled once paid, pending while open; 1 in 10,000
    # failed to start once (activities/collection_starts.py)
    "INSERT INTO collection_start (invoice_number, wake_at, state, input, updated_at, attempts)"
    " SELECT invoice_number, now() + interval '14 days',"
    " CASE WHEN status = 'paid' THEN 'settled' ELSE 'pending' END, '{}', now(),"
    " CASE WHEN random() < 0.0001 THEN 1 ELSE 0 END FROM receivable",
    "INSERT INTO invoice (number, type_code, contract_id, customer_id, issue_date, due_date,"
    " service_start, service_end, currency, net_cents, tax_cents, gross_cents, tax_category,"
    " oss, tax_groups, prices_include_vat, buyer, payment, created_at)"
    " SELECT invoice_number, '380', contract_id, customer_id, current_date, due_date,"
    " current_date, current_date + 30, 'EUR', 1092, 207, 1299, 'S', false, '[]', true, '{}',"
    " '{}', now() FROM receivable",
    "ANALYZE",
]


async def seed(factory, n: int) -> None:  # noqa: ANN001
    async with factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
    async with driver_transaction(factory) as db:
        await db.execute(SEED[0], n)
        for statement in SEED[1:]:
            await db.execute(statement)


async def per_call(name: str, call: Callable[[int], Awaitable[None]]) -> None:
    for i in range(5):  # warm-up: connections, statement caches
        await call(i)
    began = time.perf_counter()
    for i in range(RUNS):
        await call(i)
    print(f"  {name:<62} {(time.perf_counter() - began) / RUNS * 1000:8.2f} ms")


async def measure(url: str, n: int) -> None:
    engine = make_engine(url, pool_size=2)
    factory = make_session_factory(engine)
    began = time.perf_counter()
    await seed(factory, n)
    print(f"{n} customers, contracts, invoices seeded in {time.perf_counter() - began:.0f} s")
    relay = SimpleNamespace(session_factory=factory, temporal=None, settings=None)

    async def relay_round(_: int) -> None:  # nothing is due, so Temporal is never asked
        assert await start_pending(relay, older_than=LEFT_AFTER) == 0
        assert await relay_bookings(None, "bench", factory, older_than=LEFT_AFTER) == 0  # type: ignore[arg-type]

    async def unmatched_line(i: int) -> None:
        line = BankLine(statement_id="bench", entry_ref=str(i), amount_cents=1998,
                        booking_date=date.today(), remittance="Rechnung Dezember",
                        counterparty_iban=f"DE99{i:018d}")  # fmt: skip
        async with factory() as session:
            assert await match(session, line) is None

    async def credited(i: int) -> None:
        async with factory() as session:
            assert await credited_net_cents(session, f"RE-2026-{1 + i * 997 % n:07d}") == 0

    async def health(_: int) -> None:
        async with driver_connection(factory) as db:
            await backlog(db, LEFT_AFTER)

    async def sweep_page(_: int) -> None:  # nothing is due within the sweep's horizon
        async with driver_connection(factory) as db:
            assert await due(db, datetime.now(UTC) + LOOKAHEAD, PAGE) == []

    await per_call("one relay round (workflow starts, booking notices)", relay_round)
    await per_call("what /healthz asks the database (its backlog)", health)
    await per_call("a page of the hourly collection sweep", sweep_page)
    await per_call("a bank line no rule matches (the IBAN rule tried last)", unmatched_line)
    await per_call("what an invoice's credit notes have credited", credited)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    options = parser.parse_args()
    with scratch_database("faktura-scale-") as url:
        asyncio.run(measure(url, options.customers))


if __name__ == "__main__":
    main()
