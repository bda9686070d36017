"""Catalog loading is idempotent, never edits a price version, and keeps the full history."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli import DEMO_CATALOG, main
from db.catalog import CatalogDoc, CatalogError, LoadResult, load_catalog, read_catalog_file
from tests.helpers import auth


def one_product(code: str, versions: list[dict[str, Any]], **fields: Any) -> CatalogDoc:
    return CatalogDoc.model_validate(
        {
            "price_lists": [
                {"code": "consumer-de", "name": "Privat", "prices_include_vat": True},
                {"code": "business", "name": "Geschäft", "prices_include_vat": False},
            ],
            "products": [
                {
                    "code": code,
                    "name": "Test hosting",
                    "kind": "hosting",
                    "billing_period": "P1M",
                    "orderable_from": "2020-01-01",
                    "price_versions": versions,
                    **fields,
                }
            ],
        }
    )


async def load(factory: async_sessionmaker[AsyncSession], doc: CatalogDoc) -> LoadResult:
    async with factory() as session, session.begin():
        return await load_catalog(session, doc)


async def test_identical_reload_changes_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    doc = read_catalog_file(DEMO_CATALOG)
    await load(session_factory, doc)
    again = await load(session_factory, doc)
    assert not again.changed, again


async def test_a_new_valid_from_becomes_a_new_version_and_history_is_kept(
    session_factory: async_sessionmaker[AsyncSession], api: httpx.AsyncClient
) -> None:
    code = f"test-{uuid.uuid4().hex[:8]}"
    v1 = {"valid_from": "2020-01-01", "prices": {"consumer-de": {"amount": "9.99"}}}
    v2 = {"valid_from": "2026-07-01", "prices": {"consumer-de": {"amount": "10.99"}}}
    first = await load(session_factory, one_product(code, [v1]))
    assert (first.products_added, first.price_versions_added) == (1, 1)
    second = await load(session_factory, one_product(code, [v1, v2]))
    assert (second.products_added, second.price_versions_added) == (0, 1)

    async def price_on(day: str) -> int:
        response = await api.get("/v1/catalog", params={"as_of": day}, headers=auth("crm"))
        product = next(p for p in response.json()["products"] if p["code"] == code)
        return product["prices"][0]["amount_cents"]

    assert await price_on("2026-06-30") == 999
    assert await price_on("2026-07-01") == 1099
    history = await api.get("/v1/catalog", params={"history": True}, headers=auth("support"))
    product = next(p for p in history.json()["products"] if p["code"] == code)
    assert [p["amount_cents"] for p in product["prices"]] == [999, 1099]


async def test_a_recorded_price_is_never_edited(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    code = f"test-{uuid.uuid4().hex[:8]}"
    await load(
        session_factory,
        one_product(
            code, [{"valid_from": "2020-01-01", "prices": {"business": {"amount": "5.00"}}}]
        ),
    )
    edited = one_product(
        code, [{"valid_from": "2020-01-01", "prices": {"business": {"amount": "5.50"}}}]
    )
    with pytest.raises(CatalogError, match="never edited"):
        await load(session_factory, edited)


async def test_billing_terms_cannot_change_under_the_same_code(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    code = f"test-{uuid.uuid4().hex[:8]}"
    versions = [{"valid_from": "2020-01-01", "prices": {"business": {"amount": "5.00"}}}]
    await load(session_factory, one_product(code, versions))
    with pytest.raises(CatalogError, match="billing_period cannot change"):
        await load(session_factory, one_product(code, versions, billing_period="P12M"))
    renamed = await load(session_factory, one_product(code, versions, name="Renamed"))
    assert renamed.products_updated == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"billing_period": "P2M"}, "billing_period"),
        ({"notice_period": "1 month"}, "notice_period"),
        ({"price_versions": [{"valid_from": "2020-01-01", "prices": {"business": {"amount": "1.999"}}}]}, "two decimals"),
        ({"price_versions": [{"valid_from": "2020-01-01", "prices": {"nope": {"amount": "1.00"}}}]}, "unknown price list"),
    ],
)  # fmt: skip
def test_bad_catalog_documents_are_refused(change: dict[str, Any], message: str) -> None:
    versions = [{"valid_from": "2020-01-01", "prices": {"business": {"amount": "5.00"}}}]
    with pytest.raises(ValueError, match=message):
        one_product("test-bad", change.pop("price_versions", versions), **change)


def test_cli_loads_the_file(settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from config import get_settings

    monkeypatch.setenv("FAKTURA_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    try:
        main(["catalog", "load", str(DEMO_CATALOG)])
        capsys.readouterr()
        main(["catalog", "load", str(DEMO_CATALOG)])  # the second load finds everything stored
    finally:
        get_settings.cache_clear()
    assert json.loads(capsys.readouterr().out) == LoadResult().model_dump()


def test_demo_catalog_is_a_hosters_catalog() -> None:
    doc = read_catalog_file(DEMO_CATALOG)
    codes = {p.code for p in doc.products}
    assert {"hosting-s-monthly", "hosting-m-12m", "domain-de", "domain-com", "ssl-dv-yearly",
            "mailbox-extra"} <= codes  # fmt: skip
    assert set(doc.tlds) == {"de", "com"}
    assert {p.billing_period for p in doc.products} == {"P1M", "P12M"}
    assert date(2026, 7, 1) in {v.valid_from for p in doc.products for v in p.price_versions}
