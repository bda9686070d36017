"""Contract durations such as notice periods, written as ISO 8601 (``P1M``, ``P14D``, ``P4W``)."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from domain.calendar import add_months

_PATTERN = re.compile(r"^P(?:(\d{1,3})M|(\d{1,3})W|(\d{1,4})D)$")


@dataclass(frozen=True)
class Duration:
    months: int = 0
    days: int = 0

    def after(self, day: date) -> date:
        return add_months(day, self.months) + timedelta(days=self.days)

    def before(self, day: date) -> date:
        return add_months(day, -self.months) - timedelta(days=self.days)


def parse_duration(text: str) -> Duration:
    """``P1M`` -> 1 month, ``P2W`` -> 14 days, ``P14D`` -> 14 days; anything else is an error."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"not a duration like P1M, P2W or P14D: {text!r}")
    months, weeks, days = match.groups()
    if months is not None:
        return Duration(months=int(months))
    if weeks is not None:
        return Duration(days=7 * int(weeks))
    return Duration(days=int(days))
