"""The product catalog: read by everyone, loaded by admins (same document as ``catalog/*.yaml``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from api.auth import Principal, RequireRole
from api.deps import SessionDep
from api.errors import conflict
from config import Role
from db.catalog import CatalogDoc, CatalogError, LoadResult, load_catalog
from db.models import PriceList, PriceVersion, Product, Tld
from domain.berlin_time import berlin_today

router = APIRouter(tags=["catalog"])


class PriceOut(BaseModel):
    price_list_code: str
    valid_from: date
    amount_cents: int
    setup_fee_cents: int


class ProductOut(BaseModel):
    code: str
    name: str
    description: str
    kind: str
    billing_period: str
    billed_in_advance: bool
    minimum_term_months: int
    notice_period: str
    unit: str
    requires_domain: bool
    grandfathered: bool
    orderable: bool
    prices: list[PriceOut]


class PriceListOut(BaseModel):
    code: str
    name: str
    prices_include_vat: bool
    currency: str


class CatalogOut(BaseModel):
    as_of: date
    price_lists: list[PriceListOut]
    products: list[ProductOut]
    tlds: dict[str, str]


@router.get("/v1/catalog", response_model=CatalogOut)
async def get_catalog(
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.CRM, Role.SUPPORT, Role.FINANCE))],
    as_of: Annotated[date | None, Query(description="prices in force that day")] = None,
    history: Annotated[
        bool, Query(description="all price versions, not only those in force")
    ] = False,
) -> CatalogOut:
    day = as_of or berlin_today()
    lists = (await session.execute(select(PriceList).order_by(PriceList.code))).scalars().all()
    products = (await session.execute(select(Product).order_by(Product.code))).scalars().all()
    versions = (
        (await session.execute(select(PriceVersion).order_by(PriceVersion.valid_from)))
        .scalars()
        .all()
    )
    tlds = (await session.execute(select(Tld).order_by(Tld.name))).scalars().all()
    out = []
    for product in products:
        mine = [v for v in versions if v.product_code == product.code]
        if not history:
            in_force: dict[str, PriceVersion] = {}
            for version in mine:
                if version.valid_from <= day:
                    in_force[version.price_list_code] = version
            mine = list(in_force.values())
        out.append(
            ProductOut(
                **product.model_dump(
                    include=set(ProductOut.model_fields) - {"orderable", "prices"}
                ),
                orderable=product.orderable_from <= day
                and (product.orderable_until is None or day < product.orderable_until),
                prices=[PriceOut(**v.model_dump(include=set(PriceOut.model_fields))) for v in mine],
            )
        )
    return CatalogOut(
        as_of=day,
        price_lists=[PriceListOut(**p.model_dump()) for p in lists],
        products=out,
        tlds={t.name: t.product_code for t in tlds},
    )


@router.post("/v1/admin/catalog", response_model=LoadResult)
async def post_catalog(
    doc: CatalogDoc,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RequireRole(Role.ADMIN))],
) -> LoadResult:
    """Merge a catalog document; an identical reload changes nothing."""
    try:
        async with session.begin():
            return await load_catalog(session, doc)
    except CatalogError as error:
        raise conflict(str(error)) from None
