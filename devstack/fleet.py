"""A fleet of customers with active contracts whose billing day is today, as on an ordinary
billing day: seeded straight into the database, and their workflows started in the state a
sleeping contract workflow has when its timer fires (the state continue-as-new carries).

The mix: 80 % SEPA, 20 % transfer; every 4th customer a business, every 25th in Austria
(a business there: reverse charge); every 3rd contract has a yearly .de domain besides the
monthly hosting package, and that domain's year is also due today.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.workflow_starts import start_contract_workflow
from cli import DEMO_CATALOG
from db.catalog import load_catalog, read_catalog_file
from db.models import Contract, ContractVersion, Customer, SepaDebit
from domain.calendar import add_months
from workflows.models import (
    ContractState,
    ContractStatus,
    GridChangeModel,
    SepaBatchInput,
    SepaBatchResult,
    TermsModel,
)
from workflows.print_batch import SepaBatchWorkflow

IBAN = "DE02120300000000202051"
BIC = "BYLADEM1001"


@dataclass(frozen=True)
class FleetContract:
    contract: Contract
    state: ContractState
    sepa: bool


def _customer(i: int, cid: uuid.UUID) -> dict[str, Any]:
    business, austria, sepa = i % 4 == 0, i % 25 == 0, i % 5 != 0
    return {
        "id": cid, "crm_reference": f"F-C-{cid.hex[:12]}",
        "kind": "business" if business else "consumer",
        "name": f"Kunde {i}", "company": f"Firma {i} GmbH" if business else None,
        "street": "Hauptstraße", "house_number": str(i % 200 + 1),
        "postcode": "1010" if austria else "10115",
        "city": "Wien" if austria else "Berlin", "country": "AT" if austria else "DE",
        "email": f"kunde{i}@example.org", "language": "de",
        "vat_id": "ATU13585627" if austria and business else ("DE136695976" if business else None),
        "payment_method": "sepa_direct_debit" if sepa else "bank_transfer",
        "iban": IBAN if sepa else None, "bic": BIC if sepa else None,
        "mandate_reference": f"FM-{cid.hex[:20]}" if sepa else None,
        "mandate_signed_on": date(2024, 1, 15) if sepa else None,
        "invoice_channel": "email", "buyer_reference": None,
        "price_list_code": "business" if business else "consumer-de",
        "request_fingerprint": "fleet",
    }  # fmt: skip


def fleet_rows(
    n: int, today: date
) -> tuple[list[dict], list[dict], list[dict], list[FleetContract]]:
    """Rows for customers, contracts and versions, and what each workflow starts with."""
    start = add_months(today, -12)  # a year ago: monthly items due today, yearly ones too
    customers, contracts, versions, fleet = [], [], [], []
    for i in range(n):
        cid, kid = uuid.uuid4(), uuid.uuid4()
        customer = _customer(i, cid)
        customers.append(customer)
        items = [{"product_code": "hosting-m-monthly", "quantity": 1, "domain": f"kunde{i}.de"}]
        if i % 3 == 0:
            items.append({"product_code": "domain-de", "quantity": 1, "domain": f"kunde{i}.de"})
        months = [1, 12] if i % 3 == 0 else [1]
        row = {
            "id": kid, "crm_reference": f"F-K-{kid.hex[:12]}", "customer_id": cid,
            "start_date": start, "concluded_on": start, "status": "active",
            "request_fingerprint": "fleet",
        }  # fmt: skip
        contracts.append(row)
        term_end = add_months(start, 24 if i % 3 == 0 else 12)
        versions.append({
            "contract_id": kid, "version": 1, "valid_from": start, "items": items,
            "minimum_term_end": term_end, "notice_period": "P1M", "renewal_period": "P1M",
            "reason": "created", "recorded_by": "fleet",
        })  # fmt: skip
        state = ContractState(
            status=ContractStatus.ACTIVE,
            terms=TermsModel(
                start=start,
                concluded_on=start,
                minimum_term_end=term_end,
                notice_period="P1M",
                renewal_period="P1M",
                consumer=customer["kind"] == "consumer",
            ),  # fmt: skip
            schedule=[GridChangeModel(valid_from=start, months=months)],
            next_billing_date=today,
            billed_through=today,
            periods_billed=12,
            payment_method=customer["payment_method"],
            provisioning_counts={"activate": 1},
        )
        fleet.append(FleetContract(Contract(**row), state, sepa=customer["iban"] is not None))
    return customers, contracts, versions, fleet


async def seed_fleet(
    factory: async_sessionmaker[AsyncSession], n: int, today: date
) -> list[FleetContract]:
    """The demo catalog and N customers with one active contract each, due ``today``."""
    customers, contracts, versions, fleet = fleet_rows(n, today)
    async with factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
        for chunk in range(0, n, 2000):  # asyncpg: at most 32767 parameters per statement
            part = slice(chunk, chunk + 2000)
            await session.execute(Customer.__table__.insert(), customers[part])
            await session.execute(Contract.__table__.insert(), contracts[part])
            await session.execute(ContractVersion.__table__.insert(), versions[part])
    return fleet


async def start_fleet(
    client: Client, task_queue: str, fleet: list[FleetContract], concurrency: int = 50
) -> None:
    """Start every contract's workflow, as its billing timer would wake it."""
    semaphore = asyncio.Semaphore(concurrency)

    async def start(member: FleetContract) -> None:
        async with semaphore:
            await start_contract_workflow(client, task_queue, member.contract, member.state)

    await asyncio.gather(*(start(member) for member in fleet))


async def build_sepa_files(
    client: Client, factory: async_sessionmaker[AsyncSession], task_queue: str
) -> list[SepaBatchResult]:
    """The fleet's pain.008 files as the daily SEPA schedule builds them: one for each day
    from the day before the first collection date to the day before the last. A billing
    run across midnight (German time) registers debits for two collection dates."""
    async with factory() as session:
        first, last = (
            await session.execute(
                select(func.min(SepaDebit.collection_date), func.max(SepaDebit.collection_date))
            )
        ).one()
    files: list[SepaBatchResult] = []
    for day in sepa_file_days(first, last) if first else []:
        built = await client.execute_workflow(
            SepaBatchWorkflow.run, SepaBatchInput(day=day), id=f"fleet-sepa-{uuid.uuid4()}",
            task_queue=task_queue,
        )  # fmt: skip
        if built.batch_id is not None:
            files.append(built)
    return files


def sepa_file_days(first: date, last: date) -> list[date]:
    """The days whose SEPA files hold debits collected from ``first`` to ``last``: each day's
    file takes what is due by the next business day, so the day before each date will do."""
    return [first + timedelta(days=n) for n in range(-1, (last - first).days)]
