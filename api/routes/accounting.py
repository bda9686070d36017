"""For finance and the tax advisor: the monthly DATEV booking batches
(activities/accounting.py), each file exactly as written, and the quarterly OSS figures."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel
from sqlalchemy import select

from api.auth import Principal, RequireRole
from api.deps import SessionDep
from api.errors import not_found
from config import Role
from db.driver import driver_of
from db.models import AccountingExport
from db.oss import oss_totals
from domain.calendar import add_months

router = APIRouter(tags=["accounting"])
FINANCE = RequireRole(Role.FINANCE)
MONTH = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"  # YYYY-MM; year 0 is no date
QUARTER = r"^[1-9]\d{3}-Q[1-4]$"
OSS_COLUMNS = ("country", "rate", "net_cents", "vat_cents", "invoices", "credit_notes")


class AccountingExportOut(BaseModel):
    month: str  # YYYY-MM
    bookings: int
    documents: int  # invoices and credit notes
    movements: int  # matched bank lines
    late: int  # dated in a month exported before, booked on this month's first day
    locked: bool  # written with Festschreibung
    sha256: str | None
    cutoff: datetime
    created_at: datetime
    file: str | None  # the batch's path in this API; none for a month without bookings


@router.get("/v1/accounting/exports", response_model=list[AccountingExportOut])
async def accounting_exports(
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
    limit: Annotated[int, Query(ge=1, le=500)] = 24,
) -> list[AccountingExportOut]:
    """The newest batches first."""
    rows = await session.execute(
        select(AccountingExport).order_by(AccountingExport.month.desc()).limit(limit)
    )
    return [_out(export) for export in rows.scalars()]


@router.get("/v1/accounting/exports/{month}.csv", response_class=FileResponse)
async def accounting_export_file(
    month: Annotated[str, PathParam(pattern=MONTH, description="YYYY-MM")],
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
) -> FileResponse:
    """The EXTF file (Windows-1252) for DATEV's import."""
    export = await session.get(AccountingExport, date.fromisoformat(f"{month}-01"))
    if export is None or export.path is None:
        raise not_found("accounting export")
    return FileResponse(
        Path(export.path),
        media_type="text/csv; charset=windows-1252",
        filename=f"EXTF_Buchungsstapel_{month}.csv",
    )


def _out(export: AccountingExport) -> AccountingExportOut:
    name = f"{export.month:%Y-%m}"
    return AccountingExportOut(
        month=name,
        bookings=export.bookings,
        documents=export.documents,
        movements=export.movements,
        late=export.late,
        locked=export.locked,
        sha256=export.sha256,
        cutoff=export.cutoff,
        created_at=export.created_at,
        file=f"/v1/accounting/exports/{name}.csv" if export.path else None,
    )


@router.get("/v1/accounting/oss", response_model=None)
async def oss_report(
    quarter: Annotated[str, Query(pattern=QUARTER, description="YYYY-Qn")],
    session: SessionDep,
    principal: Annotated[Principal, Depends(FINANCE)],
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    """The OSS return's figures for a quarter: EU consumers' sales per country and rate,
    net and VAT in cents, credit notes subtracted (db/oss.py)."""
    year, number = int(quarter[:4]), int(quarter[-1])
    first = date(year, 3 * number - 2, 1)
    last = add_months(first, 3) - timedelta(days=1)
    lines = await oss_totals(await driver_of(session), first, last)
    await session.rollback()
    rows = [
        {"country": line.country, "rate": str(line.rate), "net_cents": line.net_cents,
         "vat_cents": line.vat_cents, "invoices": line.invoices,
         "credit_notes": line.credit_notes}
        for line in lines
    ]  # fmt: skip
    if format == "json":
        return {
            "quarter": quarter, "first_day": first, "last_day": last, "lines": rows,
            "net_cents": sum(line.net_cents for line in lines),
            "vat_cents": sum(line.vat_cents for line in lines),
        }  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(OSS_COLUMNS), delimiter=";")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv")
