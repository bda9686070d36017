"""How long matching a bank line by amount and IBAN takes at the model hoster's size.

    .venv/bin/python bench/bank_match.py [--customers N]

A transfer without the invoice number in its text, or any other incoming payment, is
matched by the last rule of the cascade (db/receivables.py ``match``): the payer's IBAN
among the customers' accounts and mandates. With N customers (default 1,000,000), each
with an account, a mandate and a receivable (1 in 20 open), printed is the time per line
whose IBAN is nobody's (every rule tried), on an embedded Postgres of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli import DEMO_CATALOG  # noqa: E402
from db.catalog import load_catalog, read_catalog_file  # noqa: E402
from db.driver import driver_transaction  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.models import BankLine  # noqa: E402
from db.receivables import match  # noqa: E402
from devstack.scratch import scratch_database  # noqa: E402

LINES = 100


async def seed(factory, n: int) -> None:  # noqa: ANN001
    """N customers paying by debit, each with an IBAN, a mandate on it, a contract and an
    invoice's receivable (SQL: seconds)."""
    async with factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
    async with driver_transaction(factory) as db:
        await db.execute(
            "INSERT INTO customer (id, crm_reference, kind, name, street, house_number, postcode,"
            " city, country, email, language, payment_method, iban, mandate_reference,"
            " invoice_channel, price_list_code, request_fingerprint, created_at)"
            " SELECT gen_random_uuid(), 'C-' || g, 'consumer', 'B', 'S', '1', '10115', 'Berlin',"
            " 'DE', 'a@example.org', 'de', 'sepa_direct_debit', 'DE' || lpad(g::text, 20, '0'),"
            " 'M-' || g, 'email', (SELECT code FROM price_list LIMIT 1), 'bench', now()"
            " FROM generate_series(1, $1) g",
            n,
        )
        await db.execute(
            "INSERT INTO sepa_mandate (reference, customer_id, iban, signed_on, status)"
            " SELECT mandate_reference, id, iban, current_date, 'active' FROM customer"
        )
        await db.execute(  # a contract each, and its last invoice's receivable: 1 in 20 open
            "INSERT INTO contract (id, crm_reference, customer_id, start_date, concluded_on,"
            " status, request_fingerprint, created_at) SELECT gen_random_uuid(),"
            " 'K-' || crm_reference, id, current_date, current_date, 'active', 'bench', now()"
            " FROM customer"
        )
        await db.execute(
            "INSERT INTO receivable (invoice_number, customer_id, contract_id, amount_cents,"
            " paid_cents, due_date, status, disputed, updated_at)"
            " SELECT 'RE-2026-' || lpad(row_number() OVER ()::text, 7, '0'), customer_id, id,"
            " 1299, CASE WHEN random() < 0.05 THEN 0 ELSE 1299 END, current_date,"
            " 'open', false, now() FROM contract"
        )
        await db.execute("UPDATE receivable SET status = 'paid' WHERE paid_cents > 0")
        await db.execute("ANALYZE")


async def measure(url: str, n: int) -> None:
    engine = make_engine(url, pool_size=1)
    factory = make_session_factory(engine)
    began = time.perf_counter()
    await seed(factory, n)
    print(f"{n} customers with mandates seeded in {time.perf_counter() - began:.0f} s")
    lines = [
        BankLine(
            statement_id="bench",
            entry_ref=str(i),
            amount_cents=1998,
            booking_date=date.today(),
            remittance="Rechnung Dezember",
            counterparty_iban=f"DE99{i:018d}",
        )  # fmt: skip
        for i in range(LINES)
    ]
    async with factory() as session:
        for line in lines[:5]:  # warm-up
            assert await match(session, line) is None
        began = time.perf_counter()
        for line in lines:
            assert await match(session, line) is None
        per_line = (time.perf_counter() - began) / LINES * 1000
    print(f"a line no rule matches (amount + IBAN tried last): {per_line:.2f} ms")
    print(f"  a statement with 1,000 such lines: {per_line:.0f} s")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    options = parser.parse_args()
    with scratch_database("faktura-bank-match-") as url:
        asyncio.run(measure(url, options.customers))


if __name__ == "__main__":
    main()
