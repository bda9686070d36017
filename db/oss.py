"""The quarterly OSS return's figures (§18j UStG, reference checklist INV-11): the EU
consumers' sales taxed where they live, per country and rate, from the issued documents.

A credit note counts in the quarter it is issued, with its sign. [StB] The OSS return
reports corrections of earlier quarters separately, by the quarter they correct; this
report lists which documents are credit notes so the advisor can do that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import asyncpg

TOTALS = """
    SELECT i.buyer->>'country' AS country, (g->>'rate') AS rate,
           sum(CASE WHEN i.type_code = '381' THEN -1 ELSE 1 END * (g->>'basis_cents')::bigint)
               AS net_cents,
           sum(CASE WHEN i.type_code = '381' THEN -1 ELSE 1 END * (g->>'tax_cents')::bigint)
               AS vat_cents,
           count(*) FILTER (WHERE i.type_code = '380') AS invoices,
           count(*) FILTER (WHERE i.type_code = '381') AS credit_notes
    FROM invoice i, jsonb_array_elements(i.tax_groups) g
    WHERE i.oss AND i.issue_date BETWEEN $1 AND $2
    GROUP BY 1, 2"""


@dataclass(frozen=True)
class OssLine:
    country: str
    rate: Decimal
    net_cents: int
    vat_cents: int
    invoices: int
    credit_notes: int


async def oss_totals(db: asyncpg.Connection, first: date, last: date) -> list[OssLine]:
    """Per country and rate, ordered so, the documents issued from ``first`` to ``last``."""
    rows = await db.fetch(TOTALS, first, last)
    lines = [
        OssLine(row["country"], Decimal(row["rate"]), row["net_cents"], row["vat_cents"],
                row["invoices"], row["credit_notes"])
        for row in rows
    ]  # fmt: skip
    return sorted(lines, key=lambda line: (line.country, line.rate))
