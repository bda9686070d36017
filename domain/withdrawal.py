"""A consumer's withdrawal (Widerruf, §§312g, 355, 356 BGB): within 14 days of concluding
a contract at a distance, without reasons.

The period starts the day after conclusion (§187 Abs. 1 BGB) and ends with its 14th day;
one ending on a Saturday, Sunday or public holiday runs on to the next working day
(§193 BGB). Only the holidays of all German states count here, as the customer's state
is not known. It assumes the customer was instructed about the right at conclusion (the
CRM's duty); without that, the period is 12 months and 14 days (§356 Abs. 3 BGB). [lawyer]

What a withdrawal costs (§357a Abs. 2 BGB): the consumer who asked for the service to start
before the period ended pays for the days served, pro rata; everything else, the set-up
fee included, comes back with the final invoice.
"""

from datetime import date, timedelta

from domain.target2 import easter_sunday

PERIOD = timedelta(days=14)


def is_german_working_day(day: date) -> bool:
    """Monday to Friday and not a holiday of every German state (§193 BGB)."""
    if day.weekday() >= 5:
        return False
    easter = easter_sunday(day.year)
    holidays = {
        date(day.year, 1, 1),
        easter - timedelta(days=2),  # Good Friday
        easter + timedelta(days=1),  # Easter Monday
        date(day.year, 5, 1),
        easter + timedelta(days=39),  # Ascension
        easter + timedelta(days=50),  # Whit Monday
        date(day.year, 10, 3),
        date(day.year, 12, 25),
        date(day.year, 12, 26),
    }
    return day not in holidays


def last_day_to_withdraw(concluded_on: date) -> date:
    """The last day a withdrawal of a contract concluded on ``concluded_on`` may arrive."""
    day = concluded_on + PERIOD
    while not is_german_working_day(day):
        day += timedelta(days=1)
    return day
