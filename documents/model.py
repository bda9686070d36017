"""What a rendered invoice shows: one structure for the PDF and the e-invoice XML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any


def euros(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class DocLine:
    position: int
    description: str
    quantity: int
    net_cents: int
    category: str
    rate: Decimal
    service_start: date
    service_end: date  # exclusive

    @property
    def last_day(self) -> date:
        return max(self.service_start, self.service_end - timedelta(days=1))


@dataclass(frozen=True)
class DocTaxGroup:
    category: str
    rate: Decimal
    basis_cents: int
    tax_cents: int


@dataclass(frozen=True)
class InvoiceDoc:
    number: str
    type_code: str  # 380 | 381
    issue_date: date
    due_date: date
    service_start: date
    service_end: date  # exclusive
    currency: str
    net_cents: int
    tax_cents: int
    gross_cents: int
    tax_category: str
    oss: bool
    tax_note: str | None
    exemption_code: str | None
    prices_include_vat: bool
    seller: dict[str, Any]
    buyer: dict[str, Any]
    payment: dict[str, Any]
    lines: tuple[DocLine, ...]
    tax_groups: tuple[DocTaxGroup, ...]
    preceding_number: str | None = None
    preceding_issue_date: date | None = None
    reason: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == "381"

    @property
    def last_service_day(self) -> date:
        return max(self.service_start, self.service_end - timedelta(days=1))

    @property
    def xrechnung(self) -> bool:
        """Public-sector buyers (with a Leitweg-ID) get XRechnung as well."""
        return bool(self.buyer.get("buyer_reference"))

    @property
    def buyer_display_name(self) -> str:
        return self.buyer.get("company") or self.buyer["name"]
