"""Which price version applies to a billing period (the price-change policy)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PriceVersionRule:
    valid_from: date
    amount_cents: int
    setup_fee_cents: int = 0


def price_in_force(
    versions: Sequence[PriceVersionRule],
    *,
    period_start: date,
    contract_start: date,
    grandfathered: bool,
) -> PriceVersionRule:
    """The version for a period starting on ``period_start``.

    A contract gets a new price from its first period that starts on or after the
    version's ``valid_from``; a grandfathered product keeps the price in force when
    the contract started.
    """
    key_day = contract_start if grandfathered else period_start
    candidates = [v for v in versions if v.valid_from <= key_day]
    if not candidates:
        raise LookupError(f"no price in force on {key_day.isoformat()}")
    return max(candidates, key=lambda v: v.valid_from)
