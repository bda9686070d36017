"""Billing calendar: anniversary periods, month-end clamping that keeps the anchor."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing_calendar import GridChange, next_due
from domain.calendar import Period, add_months, months_of, nth_period, period_index

LEAP_JAN_31 = [
    "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30",
    "2024-07-31", "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31",
    "2025-01-31", "2025-02-28",
]  # fmt: skip


def test_thirteen_monthly_periods_from_jan_31_of_a_leap_year() -> None:
    starts = [nth_period(date(2024, 1, 31), 1, n).start.isoformat() for n in range(14)]
    assert starts == LEAP_JAN_31


@pytest.mark.parametrize(
    ("anchor", "months", "n", "expected"),
    [
        (date(2024, 2, 29), 12, 1, Period(date(2025, 2, 28), date(2026, 2, 28))),
        (date(2024, 2, 29), 12, 4, Period(date(2028, 2, 29), date(2029, 2, 28))),
        (date(2026, 8, 31), 3, 1, Period(date(2026, 11, 30), date(2027, 2, 28))),
        (date(2026, 8, 31), 6, 0, Period(date(2026, 8, 31), date(2027, 2, 28))),
        (date(2026, 1, 15), 1, 11, Period(date(2026, 12, 15), date(2027, 1, 15))),
    ],
)
def test_period_table(anchor: date, months: int, n: int, expected: Period) -> None:
    assert nth_period(anchor, months, n) == expected


def test_unknown_billing_period() -> None:
    with pytest.raises(ValueError, match="P2M"):
        months_of("P2M")


def test_yearly_and_monthly_items_share_due_days() -> None:
    anchor = date(2026, 3, 31)
    schedule = [GridChange(anchor, (12,))]
    assert next_due(anchor, schedule, date(2026, 4, 1)) == date(2027, 3, 31)
    both = [GridChange(anchor, (12, 1))]
    assert next_due(anchor, both, date(2026, 4, 1)) == date(2026, 4, 30)
    # A downgrade to the yearly item alone from the next period on:
    changed = [GridChange(anchor, (12, 1)), GridChange(date(2026, 4, 30), (12,))]
    assert next_due(anchor, changed, date(2026, 5, 1)) == date(2027, 3, 31)


anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1))
months = st.sampled_from([1, 3, 6, 12])


@given(anchors, months, st.integers(min_value=0, max_value=200))
def test_periods_tile_time_without_gap_or_overlap(anchor: date, m: int, n: int) -> None:
    current, following = nth_period(anchor, m, n), nth_period(anchor, m, n + 1)
    assert current.end == following.start
    assert current.start < current.end
    assert 28 * m <= current.days <= 31 * m + 1


@given(anchors, months, st.integers(min_value=0, max_value=5000))
def test_every_day_lies_in_exactly_the_period_its_index_names(
    anchor: date, m: int, offset: int
) -> None:
    day = anchor + timedelta(days=offset)
    n = period_index(anchor, m, day)
    assert nth_period(anchor, m, n).contains(day)
    assert not nth_period(anchor, m, n + 1).contains(day)


@given(anchors, st.integers(min_value=0, max_value=600))
def test_the_anchor_day_is_kept_after_short_months(anchor: date, k: int) -> None:
    moved = add_months(anchor, k)
    assert (
        moved.day == anchor.day or moved.day < anchor.day and (moved + timedelta(days=1)).day == 1
    )
