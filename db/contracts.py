"""Reading contracts as the billing rules need them: versions in force, billable items."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.driver import driver_of
from db.models import Contract, ContractVersion, Customer, PriceList
from domain.billing import BillableItem
from domain.calendar import months_of
from domain.pricing import PriceVersionRule


async def version_in_force(
    session: AsyncSession, contract_id: uuid.UUID, day: date
) -> ContractVersion | None:
    """The version valid on ``day`` (read as it was stored; versions are never changed)."""
    db = await driver_of(session)
    row = await db.fetchrow(
        "SELECT * FROM contract_version WHERE contract_id = $1 AND valid_from <= $2"
        " ORDER BY valid_from DESC, version DESC LIMIT 1",
        contract_id, day,
    )  # fmt: skip
    return None if row is None else ContractVersion(**row)


async def latest_version(session: AsyncSession, contract_id: uuid.UUID) -> ContractVersion:
    rows = await session.execute(
        select(ContractVersion)
        .where(ContractVersion.contract_id == contract_id)
        .order_by(ContractVersion.version.desc())
        .limit(1)
    )
    return rows.scalar_one()


async def next_version_number(session: AsyncSession, contract_id: uuid.UUID) -> int:
    # The contract row is locked by the caller, so numbers cannot collide.
    current = await session.execute(
        select(func.max(ContractVersion.version)).where(ContractVersion.contract_id == contract_id)
    )
    return (current.scalar_one() or 0) + 1


async def lock_contract(session: AsyncSession, contract_id: uuid.UUID) -> Contract:
    contract = await session.get(Contract, contract_id, with_for_update=True)
    if contract is None:
        raise LookupError(f"contract {contract_id} not found")
    return contract


async def lock_contract_for_billing(
    session: AsyncSession, contract_id: uuid.UUID
) -> tuple[Contract, Customer, PriceList]:
    """The contract, locked, with its customer and price list in the same round trip.

    Through the driver (``db/driver.py``), like every statement of a bill: the three rows
    come back as Postgres row values, so the tables' columns are named in one place only."""
    db = await driver_of(session)
    row = await db.fetchrow(
        "SELECT c AS contract, cu AS customer, pl AS price_list FROM contract c"
        " JOIN customer cu ON cu.id = c.customer_id"
        " JOIN price_list pl ON pl.code = cu.price_list_code"
        " WHERE c.id = $1 FOR UPDATE OF c",
        contract_id,
    )
    if row is None:
        raise LookupError(f"contract {contract_id} not found")
    return (
        Contract(**dict(row["contract"].items())),
        Customer(**dict(row["customer"].items())),
        PriceList(**dict(row["price_list"].items())),
    )


async def customer_of(session: AsyncSession, contract: Contract) -> Customer:
    customer = await session.get(Customer, contract.customer_id)
    assert customer is not None
    return customer


async def billable_items(
    session: AsyncSession, items: list[dict[str, Any]], price_list_code: str
) -> list[BillableItem]:
    """The stored items of a version with their products' terms and full price history.

    Read through the driver in the session's transaction (``db/driver.py``): two statements
    on every bill, which the ORM made several times dearer than Postgres does."""
    codes = sorted({item["product_code"] for item in items})
    db = await driver_of(session)
    products = {
        row["code"]: row
        for row in await db.fetch(
            "SELECT code, name, billing_period, grandfathered FROM product"
            " WHERE code = ANY($1::text[])", codes
        )
    }  # fmt: skip
    prices: dict[str, list[PriceVersionRule]] = {code: [] for code in codes}
    for row in await db.fetch(
        "SELECT product_code, valid_from, amount_cents, setup_fee_cents FROM price_version"
        " WHERE product_code = ANY($1::text[]) AND price_list_code = $2 ORDER BY valid_from",
        codes, price_list_code,
    ):  # fmt: skip
        prices[row["product_code"]].append(
            PriceVersionRule(row["valid_from"], row["amount_cents"], row["setup_fee_cents"])
        )
    result = []
    for item in items:
        product = products[item["product_code"]]
        result.append(
            BillableItem(
                product_code=product["code"],
                name=product["name"],
                quantity=int(item.get("quantity", 1)),
                months=months_of(product["billing_period"]),
                grandfathered=product["grandfathered"],
                prices=tuple(prices[product["code"]]),
                domain=item.get("domain"),
            )
        )
    return result
