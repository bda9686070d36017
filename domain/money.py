"""Money rules: integer cents at rest, ``Decimal`` in calculations, one rounding rule."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_CENTS = 2**31 - 1  # amounts are stored as 32-bit integer cents (21,474,836.47)


def round_cents(amount: Decimal) -> int:
    """The one rounding rule of faktura: commercial rounding (half up) to whole cents."""
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_cents(text: str | Decimal | int) -> int:
    """Parse an exact amount such as ``"9.99"``; more than two decimals is an error."""
    try:
        amount = Decimal(str(text))
    except InvalidOperation as error:
        raise ValueError(f"not an amount: {text!r}") from error
    if not amount.is_finite() or abs(amount) * 100 > MAX_CENTS:
        raise ValueError(f"amount out of range: {text!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount must have at most two decimals: {text!r}")
    return int(amount * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)
