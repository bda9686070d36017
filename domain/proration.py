"""Pro-rata amounts by days: a part of a period pays its share of the period's price."""

from decimal import Decimal

from domain.calendar import Period
from domain.money import round_cents


def prorate(amount_cents: int, part: Period, whole: Period) -> int:
    """``amount_cents`` for ``part`` of ``whole``, by days, rounded once (half up).

    A full period prorates to the full price; parts of one period sum to the whole
    within one cent per split.
    """
    if not (whole.start <= part.start <= part.end <= whole.end):
        raise ValueError(f"{part} does not lie within {whole}")
    if part == whole:
        return amount_cents
    return round_cents(Decimal(amount_cents) * part.days / whole.days / 100)
