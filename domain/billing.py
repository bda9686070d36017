"""What a contract is charged: recurring lines for a due day, pro-rata lines for plan changes.

Amounts are in the price list's terms (net or gross); tax is applied on invoicing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.billing_calendar import on_grid
from domain.calendar import Period, nth_period, period_index
from domain.pricing import PriceVersionRule, price_in_force
from domain.proration import prorate


class LineKind(StrEnum):
    RECURRING = "recurring"
    SETUP = "setup"
    PRORATA_CHARGE = "prorata_charge"
    PRORATA_CREDIT = "prorata_credit"


@dataclass(frozen=True)
class BillableItem:
    product_code: str
    name: str
    quantity: int
    months: int
    grandfathered: bool
    prices: tuple[PriceVersionRule, ...]
    domain: str | None = None

    @property
    def identity(self) -> tuple[str, str | None]:
        return (self.product_code, self.domain)


@dataclass(frozen=True)
class Line:
    kind: LineKind
    product_code: str
    description: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    service_start: date
    service_end: date  # exclusive


def _describe(item: BillableItem) -> str:
    return f"{item.name} ({item.domain})" if item.domain else item.name


def item_period(anchor: date, item: BillableItem, day: date) -> Period:
    return nth_period(anchor, item.months, period_index(anchor, item.months, day))


def _unit_price(item: BillableItem, period: Period, contract_start: date) -> PriceVersionRule:
    return price_in_force(
        item.prices,
        period_start=period.start,
        contract_start=contract_start,
        grandfathered=item.grandfathered,
    )


def due_lines(
    items: Sequence[BillableItem], *, anchor: date, due: date, end: date | None
) -> list[Line]:
    """Lines for the items whose period starts on ``due``, billed in advance.

    A period cut short by the contract's (exclusive) ``end`` is charged pro rata; the
    setup fee comes with the very first period.
    """
    lines: list[Line] = []
    for item in items:
        if not on_grid(anchor, item.months, due):
            continue
        period = item_period(anchor, item, due)
        price = _unit_price(item, period, anchor)
        service = period if end is None or end >= period.end else Period(period.start, end)
        if service.days <= 0:
            continue
        amount = prorate(price.amount_cents * item.quantity, service, period)
        lines.append(
            Line(LineKind.RECURRING, item.product_code, _describe(item), item.quantity,
                 price.amount_cents, amount, service.start, service.end)
        )  # fmt: skip
        if due == anchor and price.setup_fee_cents:
            lines.append(
                Line(LineKind.SETUP, item.product_code, f"Einrichtung {_describe(item)}",
                     item.quantity, price.setup_fee_cents,
                     price.setup_fee_cents * item.quantity, due, due)
            )  # fmt: skip
    return lines


def yearly_value(items: Sequence[BillableItem], *, anchor: date, day: date) -> Decimal:
    """Recurring value per year at ``day``'s prices: how upgrades and downgrades are told apart."""
    total = Decimal(0)
    for item in items:
        price = _unit_price(item, item_period(anchor, item, day), anchor)
        total += Decimal(price.amount_cents * item.quantity * 12) / item.months
    return total


@dataclass(frozen=True)
class PlanChange:
    upgrade: bool
    effective_from: date
    lines: list[Line]


def plan_change(
    old: Sequence[BillableItem], new: Sequence[BillableItem], *, anchor: date, day: date
) -> PlanChange:
    """An upgrade applies on ``day`` with a pro-rata credit for the old items and a charge for
    the new ones until each item's period end; a downgrade applies at the end of the
    current period of the items it removes or reduces, with no pro-rata lines."""
    unchanged = {(i.identity, i.quantity) for i in old} & {(i.identity, i.quantity) for i in new}
    removed = [i for i in old if (i.identity, i.quantity) not in unchanged]
    added = [i for i in new if (i.identity, i.quantity) not in unchanged]
    if yearly_value(new, anchor=anchor, day=day) <= yearly_value(old, anchor=anchor, day=day):
        ends = [item_period(anchor, i, day).end for i in removed] or [day]
        return PlanChange(upgrade=False, effective_from=max(ends), lines=[])
    lines: list[Line] = []
    for item, sign, kind in [(i, -1, LineKind.PRORATA_CREDIT) for i in removed] + [
        (i, 1, LineKind.PRORATA_CHARGE) for i in added
    ]:
        period = item_period(anchor, item, day)
        rest = Period(day, period.end)
        price = _unit_price(item, period, anchor)
        amount = sign * prorate(price.amount_cents * item.quantity, rest, period)
        if amount:
            lines.append(
                Line(kind, item.product_code, _describe(item), item.quantity,
                     sign * price.amount_cents, amount, rest.start, rest.end)
            )  # fmt: skip
    return PlanChange(upgrade=True, effective_from=day, lines=lines)


def unused_credit(
    billed: Sequence[Line],
    *,
    months: Mapping[str, int],
    anchor: date,
    end: date,
    refund_setup: bool = False,
) -> list[Line]:
    """Reverse what was billed in advance for service after the contract's (exclusive) end,
    pro rata by days: the settlement of a cancellation that takes effect mid-period. A
    withdrawal (``refund_setup``) takes the set-up fees back whole as well."""
    lines: list[Line] = []
    for line in billed:
        if line.kind is LineKind.SETUP:
            if refund_setup:
                lines.append(
                    Line(LineKind.PRORATA_CREDIT, line.product_code, line.description,
                         line.quantity, -line.unit_price_cents, -line.amount_cents,
                         line.service_start, line.service_end)
                )  # fmt: skip
            continue
        if line.service_end <= end:
            continue
        period = nth_period(
            anchor,
            months[line.product_code],
            period_index(anchor, months[line.product_code], line.service_start),
        )
        rest = Period(max(end, line.service_start), line.service_end)
        amount = -prorate(line.unit_price_cents * line.quantity, rest, period)
        if amount:
            lines.append(
                Line(LineKind.PRORATA_CREDIT, line.product_code, line.description, line.quantity,
                     -line.unit_price_cents, amount, rest.start, rest.end)
            )  # fmt: skip
    return lines
