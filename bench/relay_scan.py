"""What one round of the API's relay (api/relays.py) costs at the model hoster's size.

    .venv/bin/python bench/relay_scan.py [--contracts N]

Every API process asks Postgres every 2 s for contract workflows still to start and bank
bookings still to tell. With N contracts whose workflows have all started (default
1,000,000: one outbox row each, kept) a round finds nothing; printed is how long it takes,
on an embedded Postgres of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.workflow_starts import LEFT_AFTER, start_pending  # noqa: E402
from cli import DEMO_CATALOG  # noqa: E402
from db.catalog import load_catalog, read_catalog_file  # noqa: E402
from db.driver import driver_transaction  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from devstack.scratch import scratch_database  # noqa: E402
from temporal_client import relay_bookings  # noqa: E402

ROUNDS = 50
CUSTOMER = "00000000-0000-0000-0000-000000000001"


async def seed(factory, n: int) -> None:  # noqa: ANN001
    """One customer, N contracts, N outbox rows of started workflows (SQL: seconds, not hours)."""
    async with factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
    async with driver_transaction(factory) as db:
        await db.execute(
            "INSERT INTO customer (id, crm_reference, kind, name, street, house_number, postcode,"
            " city, country, email, language, payment_method, invoice_channel, price_list_code,"
            " request_fingerprint, created_at) VALUES ($1, 'bench', 'consumer', 'B', 'S', '1',"
            " '10115', 'Berlin', 'DE', 'a@example.org', 'de', 'bank_transfer', 'email',"
            " (SELECT code FROM price_list LIMIT 1), 'bench', now())",
            CUSTOMER,
        )
        await db.execute(
            "INSERT INTO contract (id, crm_reference, customer_id, start_date, concluded_on,"
            " status, request_fingerprint, created_at)"
            " SELECT gen_random_uuid(), 'K-' || g, $1, current_date, current_date, 'active',"
            " 'bench', now() FROM generate_series(1, $2) g",
            CUSTOMER, n,
        )  # fmt: skip
        await db.execute(
            "INSERT INTO workflow_start (workflow_id, contract_id, created_at, started_at,"
            " attempts) SELECT 'contract-' || id, id, created_at, now(), 1 FROM contract"
        )
        await db.execute("ANALYZE")


async def measure(url: str, n: int) -> None:
    engine = make_engine(url, pool_size=2)
    factory = make_session_factory(engine)
    began = time.perf_counter()
    await seed(factory, n)
    print(f"{n} contracts with started workflows seeded in {time.perf_counter() - began:.0f} s")
    state = SimpleNamespace(session_factory=factory, temporal=None, settings=None)

    async def one_round() -> None:  # what relay_forever does; nothing is due, Temporal idle
        assert await start_pending(state, older_than=LEFT_AFTER) == 0
        assert await relay_bookings(None, "bench", factory, older_than=LEFT_AFTER) == 0  # type: ignore[arg-type]

    for _ in range(5):
        await one_round()
    began = time.perf_counter()
    for _ in range(ROUNDS):
        await one_round()
    per_round = (time.perf_counter() - began) / ROUNDS * 1000
    print(f"one relay round (workflow starts + booking notices): {per_round:.2f} ms")
    print(f"  every 2 s in each API process: {per_round / 2000 * 100:.2f} % of a core")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_000_000)
    options = parser.parse_args()
    with scratch_database("faktura-relay-scan-") as url:
        asyncio.run(measure(url, options.contracts))


if __name__ == "__main__":
    main()
