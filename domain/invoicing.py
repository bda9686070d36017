"""From charged lines to an invoice: net per line, VAT per rate, totals (EN 16931 BR-CO rules).

Net price lists: each line's net is its charge; VAT per (category, rate) is
``round(sum of nets x rate)`` (BR-CO-17), totals add up (BR-CO-10..16).

Gross price lists (German consumers see "9,99 EUR inkl. MwSt."): the customer pays exactly
the gross sum G of a rate group. VAT is derived once per group as
``round(G x rate / (100 + rate))`` and the net is ``G - VAT``; line nets are each line's
gross without VAT, the rounding residue going to the largest line so that they sum to the
group's net exactly. The EN 16931 arithmetic holds (BR-CO-17 allows the cent the derivation
may differ from ``round(net x rate)``).

Under another country's OSS rate a gross catalog price stays the price the consumer pays;
the VAT inside it is the destination rate's, so the seller's net changes with that rate.
Where no VAT is due (reverse charge, outside the EU) a gross price is charged without
German VAT: net = round(gross x 100 / (100 + German rate)).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.money import round_cents
from domain.tax import SELLER_COUNTRY, TaxCategory, TaxTreatment, rate_for, vat_rate


@dataclass(frozen=True)
class Charge:
    """One charged line in price-list terms (gross or net), signed (credits negative)."""

    product_code: str
    description: str
    quantity: int
    amount_cents: int
    service_start: date
    service_end: date  # exclusive


@dataclass(frozen=True)
class InvoiceLine:
    position: int
    product_code: str
    description: str
    quantity: int
    net_cents: int
    category: TaxCategory
    rate: Decimal
    service_start: date
    service_end: date  # exclusive

    @property
    def unit_net_price(self) -> Decimal:
        """BT-146, exact to four decimals when the quantity does not divide the net."""
        return (Decimal(self.net_cents) / 100 / self.quantity).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class TaxGroup:
    category: TaxCategory
    rate: Decimal
    basis_cents: int
    tax_cents: int


@dataclass(frozen=True)
class InvoiceDraft:
    lines: tuple[InvoiceLine, ...]
    tax_groups: tuple[TaxGroup, ...]
    net_cents: int
    tax_cents: int
    gross_cents: int
    treatment: TaxTreatment

    @property
    def service_start(self) -> date:
        return min(line.service_start for line in self.lines)

    @property
    def service_end(self) -> date:
        return max(line.service_end for line in self.lines)


def _split_gross(grosses: list[int], rate: Decimal) -> tuple[list[int], int, int]:
    total = sum(grosses)
    tax = round_cents(Decimal(total) * rate / (100 + rate) / 100)
    net = total - tax
    nets = [round_cents(Decimal(g) * 100 / (100 + rate) / 100) for g in grosses]
    residue = net - sum(nets)
    if residue:
        largest = max(range(len(grosses)), key=lambda i: abs(grosses[i]))
        nets[largest] += residue
    return nets, net, tax


def build_invoice(
    charges: Sequence[Charge], *, treatment: TaxTreatment, prices_include_vat: bool
) -> InvoiceDraft:
    """Lines, VAT per (category, rate) on summed nets, and totals, all in integer cents."""
    if not charges:
        raise ValueError("an invoice needs at least one line")
    rates = [rate_for(treatment, charge.service_start) for charge in charges]
    groups: dict[tuple[TaxCategory, Decimal], list[int]] = defaultdict(list)
    for index, rate in enumerate(rates):
        groups[(treatment.category, rate)].append(index)

    nets = [0] * len(charges)
    tax_groups: list[TaxGroup] = []
    for (category, rate), members in sorted(groups.items(), key=lambda g: g[0][1]):
        amounts = [charges[i].amount_cents for i in members]
        if category is TaxCategory.STANDARD and prices_include_vat:
            group_nets, basis, tax = _split_gross(amounts, rate)
        elif prices_include_vat:  # no VAT due: the price without German VAT
            group_nets = [
                round_cents(
                    Decimal(a)
                    * 100
                    / (100 + vat_rate(SELLER_COUNTRY, charges[i].service_start))
                    / 100
                )
                for a, i in zip(amounts, members, strict=True)
            ]
            basis, tax = sum(group_nets), 0
        else:
            group_nets = amounts
            basis = sum(amounts)
            tax = round_cents(Decimal(basis) * rate / 100 / 100)
        for i, net in zip(members, group_nets, strict=True):
            nets[i] = net
        tax_groups.append(TaxGroup(category, rate, basis, tax))

    lines = tuple(
        InvoiceLine(
            position=index + 1,
            product_code=charge.product_code,
            description=charge.description,
            quantity=charge.quantity,
            net_cents=nets[index],
            category=treatment.category,
            rate=rates[index],
            service_start=charge.service_start,
            service_end=charge.service_end,
        )
        for index, charge in enumerate(charges)
    )
    net_total = sum(group.basis_cents for group in tax_groups)
    tax_total = sum(group.tax_cents for group in tax_groups)
    return InvoiceDraft(
        lines=lines,
        tax_groups=tuple(tax_groups),
        net_cents=net_total,
        tax_cents=tax_total,
        gross_cents=net_total + tax_total,
        treatment=treatment,
    )


def format_number(prefix: str, year: int, sequence: int) -> str:
    """``RE-2026-0000001``: series prefix, year, seven-digit running number."""
    return f"{prefix}-{year}-{sequence:07d}"


def credit_note(
    original: Sequence[InvoiceLine],
    original_groups: Sequence[TaxGroup],
    treatment: TaxTreatment,
    credits: dict[int, int] | None = None,
) -> InvoiceDraft:
    """A credit note (type 381, positive amounts) for the original's lines.

    ``credits`` maps line positions to the net cents credited; without it every line is
    credited in full with the original's VAT groups, so invoice and credit net to zero.
    """
    by_position = {line.position: line for line in original}
    if credits is None:
        net = sum(g.basis_cents for g in original_groups)
        tax = sum(g.tax_cents for g in original_groups)
        return InvoiceDraft(tuple(original), tuple(original_groups), net, tax, net + tax, treatment)
    else:
        chosen = []
        for position, net in sorted(credits.items()):
            line = by_position.get(position)
            if line is None:
                raise ValueError(f"the invoice has no line {position}")
            if not 0 < net <= line.net_cents:
                raise ValueError(f"line {position}: credit 1..{line.net_cents} cents")
            chosen.append(InvoiceLine(**{**line.__dict__, "net_cents": net}))
    groups: dict[tuple[TaxCategory, Decimal], int] = defaultdict(int)
    for line in chosen:
        groups[(line.category, line.rate)] += line.net_cents
    tax_groups = []
    for (category, rate), basis in sorted(groups.items(), key=lambda g: g[0][1]):
        tax_groups.append(
            TaxGroup(category, rate, basis, round_cents(Decimal(basis) * rate / 10000))
        )
    lines = tuple(
        InvoiceLine(**{**line.__dict__, "position": index + 1}) for index, line in enumerate(chosen)
    )
    net = sum(g.basis_cents for g in tax_groups)
    tax = sum(g.tax_cents for g in tax_groups)
    return InvoiceDraft(lines, tuple(tax_groups), net, tax, net + tax, treatment)
