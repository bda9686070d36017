"""Loading the product catalog (YAML under ``catalog/``) and reading it back.

Loading is idempotent: an identical reload changes nothing; a price with a new
``valid_from`` becomes a new price version. Existing price versions are never
edited, and a product's billing terms cannot change under the same code.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import PriceList, PriceVersion, Product, Tld
from domain.calendar import PERIOD_MONTHS
from domain.durations import parse_duration
from domain.money import to_cents

PRODUCT_KINDS = ("hosting", "domain", "ssl", "addon")
TAX_CATEGORIES = ("standard",)
# Product fields that decide what existing contracts are billed; changing them needs a new code.
BILLING_TERMS = ("billing_period", "billed_in_advance", "tax_category", "unit", "requires_domain")


class CatalogError(ValueError):
    """The catalog file contradicts itself or the stored history."""


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str
    setup_fee: str = "0.00"

    @field_validator("amount", "setup_fee")
    @classmethod
    def _exact(cls, value: str) -> str:
        if to_cents(value) < 0:
            raise ValueError("must not be negative")
        return value


class PriceVersionDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_from: date
    prices: dict[str, PriceEntry] = Field(description="price per price list code")


class ProductDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")
    name: str
    description: str = ""
    kind: str
    billing_period: str
    billed_in_advance: bool = True
    tax_category: str = "standard"
    minimum_term_months: int = Field(default=0, ge=0, le=48)
    notice_period: str = "P1M"
    renewal_period: str = "P1M"
    unit: str = "piece"
    requires_domain: bool = False
    grandfathered: bool = False
    orderable_from: date
    orderable_until: date | None = None
    price_versions: list[PriceVersionDoc]

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in PRODUCT_KINDS:
            raise ValueError(f"must be one of {', '.join(PRODUCT_KINDS)}")
        return value

    @field_validator("billing_period")
    @classmethod
    def _period(cls, value: str) -> str:
        if value not in PERIOD_MONTHS:
            raise ValueError(f"must be one of {', '.join(PERIOD_MONTHS)}")
        return value

    @field_validator("tax_category")
    @classmethod
    def _tax(cls, value: str) -> str:
        if value not in TAX_CATEGORIES:
            raise ValueError(f"must be one of {', '.join(TAX_CATEGORIES)}")
        return value

    @field_validator("notice_period", "renewal_period")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _versions_distinct(self) -> ProductDoc:
        days = [v.valid_from for v in self.price_versions]
        if not days:
            raise ValueError("a product needs at least one price version")
        if len(set(days)) != len(days):
            raise ValueError("two price versions share a valid_from")
        return self


class PriceListDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")
    name: str
    prices_include_vat: bool
    currency: str = "EUR"


class CatalogDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    price_lists: list[PriceListDoc]
    products: list[ProductDoc]
    tlds: dict[str, str] = Field(default_factory=dict, description="TLD -> domain product code")

    @model_validator(mode="after")
    def _references(self) -> CatalogDoc:
        lists = {p.code for p in self.price_lists}
        codes = {p.code for p in self.products}
        for product in self.products:
            for version in product.price_versions:
                unknown = set(version.prices) - lists
                if unknown:
                    raise ValueError(f"{product.code}: unknown price list {sorted(unknown)}")
        for tld, code in self.tlds.items():
            if code not in codes:
                raise ValueError(f"TLD {tld}: unknown product {code}")
        return self


def read_catalog_file(path: Path) -> CatalogDoc:
    return CatalogDoc.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class LoadResult(BaseModel):
    price_lists_added: int = 0
    products_added: int = 0
    products_updated: int = 0
    price_versions_added: int = 0
    tlds_added: int = 0

    @property
    def changed(self) -> bool:
        return any(self.model_dump().values())


async def load_catalog(session: AsyncSession, doc: CatalogDoc) -> LoadResult:
    """Merge ``doc`` into the stored catalog in the caller's transaction."""
    result = LoadResult()
    for price_list in doc.price_lists:
        stored = await session.get(PriceList, price_list.code)
        if stored is None:
            session.add(PriceList(**price_list.model_dump()))
            result.price_lists_added += 1
        elif stored.prices_include_vat != price_list.prices_include_vat:
            raise CatalogError(f"price list {price_list.code}: net/gross cannot change")
    await session.flush()

    for product_doc in doc.products:
        fields = product_doc.model_dump(exclude={"price_versions"})
        stored_product = await session.get(Product, product_doc.code, with_for_update=True)
        if stored_product is None:
            session.add(Product(**fields))
            result.products_added += 1
        else:
            for name in BILLING_TERMS:
                if getattr(stored_product, name) != fields[name]:
                    raise CatalogError(
                        f"product {product_doc.code}: {name} cannot change; use a new product code"
                    )
            changed = {k: v for k, v in fields.items() if getattr(stored_product, k) != v}
            if changed:
                for name, value in changed.items():
                    setattr(stored_product, name, value)
                result.products_updated += 1
        await session.flush()
        result.price_versions_added += await _merge_prices(session, product_doc)

    for tld, product_code in doc.tlds.items():
        name = tld.lower().lstrip(".")
        stored_tld = await session.get(Tld, name)
        if stored_tld is None:
            session.add(Tld(name=name, product_code=product_code))
            result.tlds_added += 1
        elif stored_tld.product_code != product_code:
            raise CatalogError(f"TLD {name} is billed by {stored_tld.product_code} already")
    await session.flush()
    return result


async def _merge_prices(session: AsyncSession, product_doc: ProductDoc) -> int:
    rows = await session.execute(
        select(PriceVersion).where(PriceVersion.product_code == product_doc.code)
    )
    stored = {(v.price_list_code, v.valid_from): v for v in rows.scalars()}
    added = 0
    for version in product_doc.price_versions:
        for list_code, entry in version.prices.items():
            amount, setup_fee = to_cents(entry.amount), to_cents(entry.setup_fee)
            existing = stored.get((list_code, version.valid_from))
            if existing is None:
                session.add(
                    PriceVersion(
                        product_code=product_doc.code,
                        price_list_code=list_code,
                        valid_from=version.valid_from,
                        amount_cents=amount,
                        setup_fee_cents=setup_fee,
                    )
                )
                added += 1
            elif (existing.amount_cents, existing.setup_fee_cents) != (amount, setup_fee):
                raise CatalogError(
                    f"product {product_doc.code}, list {list_code}: the price valid from "
                    f"{version.valid_from} is already recorded and is never edited; "
                    "add a version with a new valid_from instead"
                )
    return added
