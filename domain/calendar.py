"""The billing calendar: periods anchored on the contract's start day.

Dates are calendar dates (no time zones, no DST). A period is ``[start, end)``.
An anchor day above 28 clamps to the month's end but is kept for the next period:
Jan 31 -> Feb 29 -> Mar 31.
"""

import calendar
from dataclasses import dataclass
from datetime import date

PERIOD_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P12M": 12}


def months_of(billing_period: str) -> int:
    try:
        return PERIOD_MONTHS[billing_period]
    except KeyError:
        raise ValueError(f"unknown billing period {billing_period!r}") from None


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by whole months, the day clamped to the target month's length."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last_day))


@dataclass(frozen=True, order=True)
class Period:
    """A billing period ``[start, end)``."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def nth_period(anchor: date, months: int, n: int) -> Period:
    """The n-th period (0-based) of a contract anchored on ``anchor``."""
    return Period(add_months(anchor, n * months), add_months(anchor, (n + 1) * months))


def period_index(anchor: date, months: int, day: date) -> int:
    """Index of the period containing ``day`` (``day`` on or after ``anchor``)."""
    if day < anchor:
        raise ValueError("day lies before the anchor")
    n = ((day.year - anchor.year) * 12 + day.month - anchor.month) // months
    while nth_period(anchor, months, n).start > day:
        n -= 1
    while nth_period(anchor, months, n).end <= day:
        n += 1
    return n
