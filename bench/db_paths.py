"""Worker CPU per short transaction: the ORM, Core, and the driver (db/driver.py).

    .venv/bin/python bench/db_paths.py [N]

The transaction is the e-mail step's first one: read the customer, insert the outbox row
(``ON CONFLICT DO NOTHING RETURNING``). It runs N times each way on its own embedded
Postgres; printed is the client's CPU time per transaction (Postgres' own work is the same
for every way, the statements are the same).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.dialects.postgresql import insert  # noqa: E402

from db.driver import driver_transaction  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.models import Customer, OutboxMessage, PriceList  # noqa: E402
from devstack.scratch import scratch_database  # noqa: E402

OUTBOX_INSERT = (
    "INSERT INTO outbox_message (purpose, reference, customer_id, message_id, recipient,"
    " subject, status, attempts, created_at) VALUES ($1, $2, $3, $4, 'a@example.org', 'Test',"
    " 'pending', 0, now()) ON CONFLICT DO NOTHING RETURNING id"
)


async def measure(url: str, n: int) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    customer_id = uuid.uuid4()
    async with factory() as session, session.begin():
        session.add(PriceList(code="bench", name="Bench", prices_include_vat=True))
        await session.flush()
        session.add(Customer(id=customer_id, crm_reference="bench", kind="consumer", name="B",
                             street="S", house_number="1", postcode="10115", city="Berlin",
                             country="DE", email="a@example.org", payment_method="bank_transfer",
                             price_list_code="bench", request_fingerprint="bench"))  # fmt: skip
    outbox, customers = OutboxMessage.__table__, Customer.__table__  # type: ignore[attr-defined]

    def key() -> str:
        return uuid.uuid4().hex

    async def orm() -> None:
        async with factory() as session, session.begin():
            await session.get(Customer, customer_id)
            reference = key()
            await session.execute(
                insert(OutboxMessage)
                .values(purpose="bench", reference=reference, customer_id=customer_id,
                        message_id=reference, recipient="a@example.org", subject="Test")
                .on_conflict_do_nothing()
                .returning(OutboxMessage)
            )  # fmt: skip

    async def core() -> None:
        async with engine.begin() as connection:
            await connection.execute(select(customers).where(customers.c.id == customer_id))
            reference = key()
            await connection.execute(
                insert(outbox)
                .values(purpose="bench", reference=reference, customer_id=customer_id,
                        message_id=reference, recipient="a@example.org", subject="Test",
                        status="pending", attempts=0)
                .on_conflict_do_nothing()
                .returning(outbox.c.id)
            )  # fmt: skip

    async def driver() -> None:
        async with driver_transaction(factory) as db:
            await db.fetchrow("SELECT * FROM customer WHERE id = $1", customer_id)
            reference = key()
            await db.fetchval(OUTBOX_INSERT, "bench", reference, customer_id, reference)

    ways: dict[str, Callable[[], Awaitable[None]]] = {
        "ORM (AsyncSession, insert().returning(Model))": orm,
        "Core (AsyncConnection, compiled and cached)": core,
        "driver (asyncpg on the pool's connection)": driver,
    }
    print(f"read customer + insert outbox row, one transaction, {n} runs each, client CPU")
    for name, way in ways.items():
        for _ in range(50):  # warm-up: statement caches, prepared statements
            await way()
        started = time.process_time()
        for _ in range(n):
            await way()
        print(f"  {name:<48} {(time.process_time() - started) / n * 1000:6.2f} ms")
    await engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with scratch_database("faktura-db-paths-") as url:
        asyncio.run(measure(url, n))


if __name__ == "__main__":
    main()
