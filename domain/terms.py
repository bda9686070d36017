"""Contract terms: minimum term, notice, renewal, and the earliest possible end.

Dates: a contract's ``end`` is exclusive (the first day without service), like a
period's end. Notice periods follow §§187, 188 BGB: notice of one month given on
March 10 runs out at the end of April 10.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from domain.durations import Duration

# §309 Nr. 9 BGB as amended by the Gesetz für faire Verbraucherverträge.
CONSUMER_RULE_FROM = date(2022, 3, 1)
CONSUMER_MAX_NOTICE = Duration(months=1)


@dataclass(frozen=True)
class Terms:
    start: date
    concluded_on: date
    minimum_term_end: date  # exclusive
    notice: Duration
    renewal: Duration
    consumer: bool

    @property
    def open_ended_after_minimum(self) -> bool:
        """Consumer contracts concluded from 2022-03-01 do not renew for fixed terms."""
        return self.consumer and self.concluded_on >= CONSUMER_RULE_FROM


def notice_expires(notice: Duration, received_on: date) -> date:
    """Last day of a notice period that starts running after ``received_on`` (§187 (1) BGB)."""
    return notice.after(received_on)


def earliest_end(terms: Terms, received_on: date) -> date:
    """The earliest (exclusive) end of an ordinary cancellation received on ``received_on``."""
    term_end = terms.minimum_term_end
    if notice_expires(terms.notice, received_on) < term_end:
        return term_end
    if terms.open_ended_after_minimum:
        notice = terms.notice
        if notice.after(received_on) > CONSUMER_MAX_NOTICE.after(received_on):
            notice = CONSUMER_MAX_NOTICE
        return max(term_end, notice_expires(notice, received_on) + timedelta(days=1))
    while notice_expires(terms.notice, received_on) >= term_end:
        term_end = terms.renewal.after(term_end)
    return term_end
