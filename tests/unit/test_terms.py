"""Earliest end of an ordinary cancellation: minimum term, notice, renewal, consumer rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.berlin_time import berlin_date, berlin_midnight
from domain.durations import Duration, parse_duration
from domain.terms import Terms, earliest_end

UTC = UTC


def terms(
    concluded: date, consumer: bool, months: int = 12, notice: str = "P1M", renewal: str = "P12M"
) -> Terms:
    return Terms(
        start=concluded,
        concluded_on=concluded,
        minimum_term_end=date(concluded.year + months // 12, concluded.month, concluded.day),
        notice=parse_duration(notice),
        renewal=parse_duration(renewal),
        consumer=consumer,
    )


@pytest.mark.parametrize(
    ("case", "received", "expected_end"),
    [
        # 12-month term from 2026-02-01 ends (exclusive) 2027-02-01; notice must run out by Jan 31.
        ("business, in time", date(2026, 12, 30), date(2027, 2, 1)),
        ("business, last day", date(2026, 12, 31), date(2027, 2, 1)),  # notice ends Jan 31
        ("business, one day late", date(2027, 1, 1), date(2028, 2, 1)),  # renews 12 months
        ("consumer, in time", date(2026, 12, 31), date(2027, 2, 1)),
        ("consumer, late: one month", date(2027, 1, 10), date(2027, 2, 11)),
        ("consumer, after the term", date(2027, 3, 10), date(2027, 4, 11)),
        ("consumer, during the term", date(2026, 6, 1), date(2027, 2, 1)),
    ],
)
def test_earliest_end(case: str, received: date, expected_end: date) -> None:
    consumer = case.startswith("consumer")
    assert earliest_end(terms(date(2026, 2, 1), consumer), received) == expected_end


def test_consumer_contracts_before_march_2022_renew_like_business() -> None:
    old = terms(date(2021, 6, 1), consumer=True)
    assert earliest_end(old, date(2022, 5, 15)) == date(2023, 6, 1)


def test_a_consumer_notice_of_three_months_is_capped_at_one() -> None:
    long_notice = terms(date(2026, 2, 1), consumer=True, notice="P3M")
    assert earliest_end(long_notice, date(2027, 5, 5)) == date(2027, 6, 6)


def test_durations() -> None:
    assert parse_duration("P2W") == Duration(days=14)
    assert parse_duration("P14D").after(date(2026, 2, 20)) == date(2026, 3, 6)
    with pytest.raises(ValueError):
        parse_duration("1 month")


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2026, 1, 31, 22, 59, tzinfo=UTC), date(2026, 1, 31)),
        (datetime(2026, 1, 31, 23, 0, tzinfo=UTC), date(2026, 2, 1)),  # CET, UTC+1
        (datetime(2026, 7, 31, 21, 59, tzinfo=UTC), date(2026, 7, 31)),
        (datetime(2026, 7, 31, 22, 0, tzinfo=UTC), date(2026, 8, 1)),  # CEST, UTC+2
    ],
)
def test_berlin_business_day(moment: datetime, day: date) -> None:
    assert berlin_date(moment) == day


def test_berlin_midnight() -> None:
    assert berlin_midnight(date(2026, 2, 1)) == datetime(2026, 1, 31, 23, tzinfo=UTC)
    assert berlin_midnight(date(2026, 8, 1)) == datetime(2026, 7, 31, 22, tzinfo=UTC)
    assert berlin_midnight(date(2026, 3, 29)) == datetime(2026, 3, 28, 23, tzinfo=UTC)  # DST day
