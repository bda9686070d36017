"""Amounts parse exactly or not at all (found by fuzzing the catalog: '1E+30' crashed)."""

from __future__ import annotations

import pytest

from domain.money import MAX_CENTS, to_cents


@pytest.mark.parametrize(
    ("text", "cents"), [("9.99", 999), ("0", 0), ("-1.50", -150), ("21474836.47", MAX_CENTS)]
)
def test_exact_amounts(text: str, cents: int) -> None:
    assert to_cents(text) == cents


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1E+30", "out of range"),
        ("21474836.48", "out of range"),
        ("NaN", "out of range"),
        ("Infinity", "out of range"),
        ("9.999", "two decimals"),
        ("neun", "not an amount"),
    ],
)
def test_refused_amounts_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        to_cents(text)
