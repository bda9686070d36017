"""The API's "today" is the German calendar day: from 00:00 to 01:00 German time (02:00 in
summer) the machine's UTC date is still the day before. The clock is set to 23:30 UTC on
New Year's Eve, which is 00:30 on 1 January in Germany."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import domain.berlin_time
from db.models import PriceVersion, Product
from tests.factories import contract_body, create_customer
from tests.helpers import auth

NEW_YEARS_EVE_LATE = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


class _Clock(datetime):
    """``datetime`` whose ``now`` is NEW_YEARS_EVE_LATE."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return NEW_YEARS_EVE_LATE.astimezone(tz) if tz else NEW_YEARS_EVE_LATE.replace(tzinfo=None)


@pytest.fixture
def new_years_night(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain.berlin_time, "datetime", _Clock)


async def test_the_catalog_shows_the_prices_of_the_german_day(
    api: httpx.AsyncClient, catalog: None, new_years_night: None
) -> None:
    response = await api.get("/v1/catalog", headers=auth("support"))
    assert response.status_code == 200
    assert response.json()["as_of"] == "2027-01-01"


async def test_a_contract_view_defaults_to_the_german_day(
    api: httpx.AsyncClient, catalog: None, new_years_night: None
) -> None:
    customer = await create_customer(api)
    created = await api.post(
        "/v1/contracts", json=contract_body(customer["id"]), headers=auth("crm")
    )
    assert created.status_code == 201, created.text
    view = await api.get(f"/v1/contracts/{created.json()['id']}", headers=auth("support"))
    assert view.status_code == 200
    assert view.json()["as_of"] == "2027-01-01"  # the contract began on 2026-03-15


async def test_a_plan_change_is_checked_against_the_catalog_of_the_german_day(
    api: httpx.AsyncClient,
    catalog: None,
    worker: object,
    session_factory: async_sessionmaker[AsyncSession],
    new_years_night: None,
) -> None:
    """A product orderable until 2027-01-01 (exclusive) can no longer be ordered at 00:30
    German time on New Year's Day. By UTC's date it still could, and the change would go to
    the contract's workflow (the worker answers it: not a 422)."""
    code = "hosting-retired-2026"
    async with session_factory() as session, session.begin():
        session.add(
            Product(
                code=code,
                name="Retired",
                kind="hosting",
                billing_period="P1M",
                orderable_from=date(2020, 1, 1),
                orderable_until=date(2027, 1, 1),
            )
        )
        await session.flush()
        for price_list in ("consumer-de", "business"):
            session.add(
                PriceVersion(
                    product_code=code,
                    price_list_code=price_list,
                    valid_from=date(2020, 1, 1),
                    amount_cents=12_99,
                )
            )
    customer = await create_customer(api)
    created = await api.post(
        "/v1/contracts", json=contract_body(customer["id"]), headers=auth("crm")
    )
    assert created.status_code == 201, created.text
    change = await api.post(
        f"/v1/contracts/{created.json()['id']}/changes",
        json={"items": [{"product_code": code, "domain": "beispiel.de"}]},
        headers=auth("crm"),
    )
    assert change.status_code == 422, change.text
    assert change.json()["detail"][0]["loc"][-3:] == ["items", 0, "product_code"]
    assert change.json()["detail"][0]["msg"] == f"{code} is not orderable on 2027-01-01"
