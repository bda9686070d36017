"""The price-change policy: a new price from the first period starting on or after valid_from."""

from __future__ import annotations

from datetime import date

import pytest

from domain.pricing import PriceVersionRule, price_in_force

VERSIONS = [
    PriceVersionRule(date(2020, 1, 1), 499),
    PriceVersionRule(date(2026, 7, 1), 599),
]


@pytest.mark.parametrize(
    ("period_start", "grandfathered", "expected"),
    [
        (date(2026, 6, 15), False, 499),  # period began before the change
        (date(2026, 7, 15), False, 599),  # first period starting after valid_from
        (date(2026, 7, 1), False, 599),  # starts exactly on valid_from
        (date(2026, 7, 15), True, 499),  # grandfathered keeps the contract-start price
    ],
)
def test_price_in_force(period_start: date, grandfathered: bool, expected: int) -> None:
    rule = price_in_force(
        VERSIONS,
        period_start=period_start,
        contract_start=date(2025, 3, 15),
        grandfathered=grandfathered,
    )
    assert rule.amount_cents == expected


def test_no_price_before_the_first_version() -> None:
    with pytest.raises(LookupError):
        price_in_force(
            VERSIONS,
            period_start=date(2019, 1, 1),
            contract_start=date(2019, 1, 1),
            grandfathered=False,
        )
