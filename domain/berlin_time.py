"""Business days are German calendar days; clocks (and Temporal) run in UTC.

Central European Time is UTC+1, summer time UTC+2 from the last Sunday of March 01:00 UTC
to the last Sunday of October 01:00 UTC (EU rule since 1996). Computed here instead of
reading tz files, so workflows can use it deterministically.
"""

from datetime import UTC, date, datetime, time, timedelta


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def berlin_offset(moment: datetime) -> timedelta:
    """UTC offset of German civil time at ``moment`` (an aware datetime)."""
    utc = moment.astimezone(UTC)
    summer_from = datetime.combine(_last_sunday(utc.year, 3), time(1), UTC)
    summer_until = datetime.combine(_last_sunday(utc.year, 10), time(1), UTC)
    return timedelta(hours=2 if summer_from <= utc < summer_until else 1)


def berlin_clock(moment: datetime) -> datetime:
    """The German wall-clock time at ``moment`` (naive, for display)."""
    return (moment.astimezone(UTC) + berlin_offset(moment)).replace(tzinfo=None)


def berlin_date(moment: datetime) -> date:
    """The German calendar day at ``moment``."""
    return berlin_clock(moment).date()


def berlin_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Germany."""
    guess = datetime.combine(day, time(0), UTC) - timedelta(hours=1)
    return datetime.combine(day, time(0), UTC) - berlin_offset(guess)


def berlin_today() -> date:
    """Today in Germany by the machine's clock, for code outside workflows (the API): the
    machine's own date is UTC's, a day behind from 00:00 to 01:00 (02:00 in summer)."""
    return berlin_date(datetime.now(UTC))
