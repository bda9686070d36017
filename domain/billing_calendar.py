"""When a contract is due: every item bills on its own grid anchored on the contract start.

All grids share the anchor and their lengths (1, 3, 6, 12 months) divide each other, so
a yearly domain and a monthly package of one contract fall due on common days. What is
billed may change over time (plan changes): ``Schedule`` says which item grids are in
force from which day on.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain.calendar import nth_period, period_index


@dataclass(frozen=True)
class GridChange:
    valid_from: date
    months: tuple[int, ...]  # billing-period lengths of the items in force


def months_on(schedule: Sequence[GridChange], day: date) -> tuple[int, ...]:
    current: tuple[int, ...] = ()
    for change in schedule:
        if change.valid_from <= day:
            current = change.months
    return current


def on_grid(anchor: date, months: int, day: date) -> bool:
    return (
        day >= anchor and nth_period(anchor, months, period_index(anchor, months, day)).start == day
    )


def next_due(anchor: date, schedule: Sequence[GridChange], not_before: date) -> date:
    """The first day on or after ``not_before`` on which some item in force starts a period."""
    day = max(anchor, not_before)
    candidates = set()
    for months in {m for change in schedule for m in change.months}:
        n = period_index(anchor, months, day)
        start = nth_period(anchor, months, n).start
        candidates.add(start if start >= day else nth_period(anchor, months, n + 1).start)
        candidates.add(nth_period(anchor, months, n + 1).start)
    for candidate in sorted(candidates):
        if any(on_grid(anchor, m, candidate) for m in months_on(schedule, candidate)):
            return candidate
    # Nothing in force at the nearest grid days (e.g. all items removed): look one grid further.
    return next_due(anchor, schedule, max(candidates)) if candidates else day
