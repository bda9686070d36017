"""Which days' SEPA files a billing run needs (devstack/fleet.py): one collection date,
or two when the run crossed midnight German time."""

from datetime import date

from devstack.fleet import sepa_file_days
from domain.target2 import next_business_day


def test_one_collection_date_needs_the_file_of_the_day_before() -> None:
    assert sepa_file_days(date(2026, 12, 4), date(2026, 12, 4)) == [date(2026, 12, 3)]


def test_a_run_across_midnight_needs_a_file_for_each_date() -> None:
    days = sepa_file_days(date(2026, 12, 4), date(2026, 12, 5))
    assert days == [date(2026, 12, 3), date(2026, 12, 4)]
    # the last file reaches the last collection date (a file takes what is due by the next
    # business day)
    assert next_business_day(days[-1]) >= date(2026, 12, 5)
