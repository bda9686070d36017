"""The consumer's withdrawal period (§§355, 356, 187, 193 BGB) and what it refunds
(§357a Abs. 2 BGB). Dates and amounts by hand."""

from __future__ import annotations

from datetime import date

import pytest

from domain.billing import Line, LineKind, unused_credit
from domain.withdrawal import last_day_to_withdraw


@pytest.mark.parametrize(
    ("concluded_on", "last_day"),
    [
        (date(2026, 11, 27), date(2026, 12, 11)),  # Friday + 14 days: a Friday
        (date(2026, 11, 28), date(2026, 12, 14)),  # ends on a Saturday: the Monday after
        (date(2026, 12, 12), date(2026, 12, 28)),  # Dec 26 (holiday, Saturday), 27 Sunday
        (date(2027, 4, 22), date(2027, 5, 7)),  # Ascension 2027 is Thursday May 6
        (date(2027, 9, 19), date(2027, 10, 4)),  # Oct 3, Day of German Unity, a Sunday
    ],
)
def test_the_period_runs_fourteen_days_and_on_to_a_working_day(
    concluded_on: date, last_day: date
) -> None:
    assert last_day_to_withdraw(concluded_on) == last_day


SETUP = Line(LineKind.SETUP, "hosting-m-monthly", "Einrichtung", 1, 999, 999,
             date(2027, 9, 1), date(2027, 10, 1))  # fmt: skip
MONTH = Line(LineKind.RECURRING, "hosting-m-monthly", "Webhosting M", 1, 999, 999,
             date(2027, 9, 1), date(2027, 10, 1))  # fmt: skip


def test_a_withdrawal_refunds_the_set_up_fee_and_the_days_not_served() -> None:
    end = date(2027, 9, 11)  # withdrawn on Sep 10: served Sep 1..10
    months = {"hosting-m-monthly": 1}
    credits = unused_credit([SETUP, MONTH], months=months, anchor=date(2027, 9, 1), end=end,
                            refund_setup=True)  # fmt: skip
    # the set-up fee whole; 20 of September's 30 days: 9.99 * 20 / 30 = 6.66
    assert [(c.description, c.amount_cents) for c in credits] == [
        ("Einrichtung", -999), ("Webhosting M", -666),
    ]  # fmt: skip
    assert (credits[0].service_start, credits[1].service_start) == (date(2027, 9, 1), end)
    cancelled = unused_credit([SETUP, MONTH], months=months, anchor=date(2027, 9, 1), end=end)
    assert [c.amount_cents for c in cancelled] == [-666]  # a cancellation keeps the set-up fee
