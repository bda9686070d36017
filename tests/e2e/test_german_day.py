"""The API's "today" is the German calendar day: from 00:00 to 01:00 German time (02:00 in
summer) the machine's UTC date is still the day before. The clock is set to 23:30 UTC on
New Year's Eve, which is 00:30 on 1 January in Germany."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import httpx
import pytest

import domain.berlin_time
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
