"""The dunning ladder, fees and default interest (§§286, 288 BGB).

All days are relative to the due date D. Fees are actual costs only; the first
reminder (which creates the default) is free; businesses owe the €40 flat fee once per
claim (§288 Abs. 5). Interest: base rate + 5 points (consumers) or + 9 points
(businesses), per day, over the periods of the dated base rate; rounded once.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.money import round_cents

# §247 BGB base rate, as published by the Bundesbank (changes on 1 Jan / 1 Jul).
BASE_RATES: tuple[tuple[date, Decimal], ...] = (
    (date(2023, 7, 1), Decimal("3.12")),
    (date(2024, 1, 1), Decimal("3.62")),
    (date(2024, 7, 1), Decimal("3.37")),
    (date(2025, 1, 1), Decimal("2.27")),
    (date(2025, 7, 1), Decimal("1.27")),
)
CONSUMER_POINTS = Decimal(5)
BUSINESS_POINTS = Decimal(9)
BUSINESS_FLAT_FEE_CENTS = 4000


class Step(StrEnum):
    REMINDER = "reminder"  # Zahlungserinnerung: creates the default, free of charge
    FIRST_NOTICE = "first_notice"  # 1. Mahnung: cost-based fee, interest, B2B €40
    FINAL_NOTICE = "final_notice"  # letzte Mahnung with suspension warning and deadline
    SUSPENSION = "suspension"
    TERMINATION = "termination"
    COLLECTION = "collection"  # hand-over to the collection agency


@dataclass(frozen=True)
class LadderStep:
    step: Step
    days_after_due: int
    fee_cents: int = 0  # actual costs of this letter (material, postage)


@dataclass(frozen=True)
class DunningPolicy:
    steps: tuple[LadderStep, ...]
    final_notice_deadline_days: int = 14
    suspension_threshold_cents: int = 1000  # no suspension for insignificant arrears

    def step_after(self, step: Step | None) -> LadderStep | None:
        names = [s.step for s in self.steps]
        index = 0 if step is None else names.index(step) + 1
        return self.steps[index] if index < len(self.steps) else None


def default_policy(business: bool) -> DunningPolicy:
    """Defaults from german-billing-law.md §4.2; configurable per customer type."""
    fee = 150 if business else 100
    return DunningPolicy(
        steps=(
            LadderStep(Step.REMINDER, 7),
            LadderStep(Step.FIRST_NOTICE, 21, fee),
            LadderStep(Step.FINAL_NOTICE, 35, fee),
            LadderStep(Step.SUSPENSION, 49),
            LadderStep(Step.TERMINATION, 63),
            LadderStep(Step.COLLECTION, 77),
        )
    )


def base_rate_on(day: date) -> Decimal:
    rate = BASE_RATES[0][1]
    for valid_from, value in BASE_RATES:
        if valid_from <= day:
            rate = value
    return rate


def default_interest(principal_cents: int, since: date, until: date, *, business: bool) -> int:
    """Interest on ``principal_cents`` for the days from ``since`` (first day in default) to
    ``until`` (exclusive), actual/365, split where the base rate changes; one rounding."""
    if until <= since or principal_cents <= 0:
        return 0
    points = BUSINESS_POINTS if business else CONSUMER_POINTS
    total = Decimal(0)
    day = since
    boundaries = sorted({d for d, _ in BASE_RATES if since < d < until} | {until})
    for boundary in boundaries:
        days = (boundary - day).days
        rate = base_rate_on(day) + points
        total += Decimal(principal_cents) * rate / 100 * days / 365
        day = boundary
    return round_cents(total / 100)


@dataclass(frozen=True)
class Charges:
    fee_cents: int
    flat_fee_cents: int
    interest_cents: int

    @property
    def total(self) -> int:
        return self.fee_cents + self.flat_fee_cents + self.interest_cents


def charges_at(
    policy: DunningPolicy,
    reached: Sequence[Step],
    *,
    principal_cents: int,
    default_since: date | None,
    on: date,
    business: bool,
) -> Charges:
    """What the customer owes on top of the principal once the steps in ``reached`` were taken."""
    fees = sum(s.fee_cents for s in policy.steps if s.step in reached)
    flat = BUSINESS_FLAT_FEE_CENTS if business and Step.FIRST_NOTICE in reached else 0
    interest = (
        default_interest(principal_cents, default_since, on, business=business)
        if default_since
        else 0
    )
    return Charges(fees, flat, interest)


@dataclass
class LadderState:
    reached: list[Step] = field(default_factory=list)

    def due_day(self, policy: DunningPolicy, due: date) -> tuple[LadderStep, date] | None:
        nxt = policy.step_after(self.reached[-1] if self.reached else None)
        return (nxt, due + timedelta(days=nxt.days_after_due)) if nxt else None
