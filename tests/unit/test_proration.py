"""Pro-rata by days: full periods pay the full price, parts sum to the whole within a cent per split."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.calendar import Period, nth_period
from domain.proration import prorate

MAY = Period(date(2026, 5, 1), date(2026, 6, 1))  # 31 days


@pytest.mark.parametrize(
    ("amount", "part", "expected"),
    [
        (999, MAY, 999),
        (999, Period(date(2026, 5, 17), date(2026, 6, 1)), 483),  # 9.99 * 15/31 = 4.8339
        (1000, Period(date(2026, 5, 1), date(2026, 5, 2)), 32),  # 10.00 / 31 = 0.3226
        (3100, Period(date(2026, 5, 1), date(2026, 5, 16)), 1500),  # exactly 15/31
        (-999, Period(date(2026, 5, 17), date(2026, 6, 1)), -483),  # a credit rounds the same way
    ],
)
def test_prorate_table(amount: int, part: Period, expected: int) -> None:
    assert prorate(amount, part, MAY) == expected


def test_part_outside_the_period_is_an_error() -> None:
    with pytest.raises(ValueError):
        prorate(999, Period(date(2026, 4, 30), date(2026, 5, 2)), MAY)


@given(
    st.integers(min_value=0, max_value=10_000_000),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    st.sampled_from([1, 3, 6, 12]),
    st.lists(st.integers(min_value=1, max_value=400), max_size=5),
)
def test_parts_sum_to_the_whole_within_a_cent_per_split(
    amount: int, anchor: date, months: int, cuts: list[int]
) -> None:
    whole = nth_period(anchor, months, 0)
    days = sorted({c % whole.days for c in cuts} - {0})
    bounds = [whole.start, *[whole.start + timedelta(days=d) for d in days], whole.end]
    parts = [Period(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    total = sum(prorate(amount, part, whole) for part in parts)
    assert abs(total - amount) <= len(parts) - 1
    assert prorate(amount, whole, whole) == amount
