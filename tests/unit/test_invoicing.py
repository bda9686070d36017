"""Invoice arithmetic: the tax matrix and rounding, with every total computed by hand here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.invoicing import Charge, build_invoice, credit_note, format_number
from domain.tax import TaxCategory, treatment_for, vat_rate

JAN = (date(2026, 1, 1), date(2026, 2, 1))


def charge(cents: int, quantity: int = 1, start: date = JAN[0], end: date = JAN[1]) -> Charge:
    return Charge("p", "Webhosting M", quantity, cents, start, end)


def test_german_consumer_pays_exactly_the_gross_catalog_price() -> None:
    # 9.99 + 9.99 setup, gross: VAT = round(19.98 * 19/119) = round(3.19008) = 3.19
    draft = build_invoice(
        [charge(999), charge(999)],
        treatment=treatment_for("DE", business=False, vat_id=None),
        prices_include_vat=True,
    )
    assert (draft.net_cents, draft.tax_cents, draft.gross_cents) == (1679, 319, 1998)
    # each line 9.99 / 1.19 = 8.39496 -> 8.39; the cent of residue goes to the first largest
    assert [line.net_cents for line in draft.lines] == [840, 839]
    assert [(g.category, g.rate, g.basis_cents, g.tax_cents) for g in draft.tax_groups] == [
        (TaxCategory.STANDARD, Decimal("19"), 1679, 319)
    ]


def test_german_business_net_prices() -> None:
    draft = build_invoice(
        [charge(839), charge(839)],
        treatment=treatment_for("DE", business=True, vat_id="DE136695976"),
        prices_include_vat=False,
    )
    # 16.78 * 0.19 = 3.1882 -> 3.19
    assert (draft.net_cents, draft.tax_cents, draft.gross_cents) == (1678, 319, 1997)


def test_austrian_business_with_vat_id_is_reverse_charge() -> None:
    treatment = treatment_for("AT", business=True, vat_id="ATU13585627")
    draft = build_invoice([charge(839)], treatment=treatment, prices_include_vat=False)
    assert treatment.category is TaxCategory.REVERSE_CHARGE
    assert treatment.note == "Steuerschuldnerschaft des Leistungsempfängers"
    assert (draft.net_cents, draft.tax_cents, draft.gross_cents) == (839, 0, 839)


def test_french_consumer_pays_the_gross_price_with_french_vat_inside() -> None:
    treatment = treatment_for("FR", business=False, vat_id=None)
    draft = build_invoice([charge(999)], treatment=treatment, prices_include_vat=True)
    assert treatment.oss and draft.lines[0].rate == Decimal("20")
    # VAT = round(9.99 * 20/120) = round(1.665) = 1.67 (half up)
    assert (draft.net_cents, draft.tax_cents, draft.gross_cents) == (832, 167, 999)


def test_swiss_customer_is_not_taxable_in_germany() -> None:
    treatment = treatment_for("CH", business=False, vat_id=None)
    draft = build_invoice([charge(999)], treatment=treatment, prices_include_vat=True)
    assert treatment.category is TaxCategory.NOT_SUBJECT and treatment.note
    # the gross price without German VAT: 9.99 / 1.19 = 8.39496 -> 8.39
    assert (draft.net_cents, draft.tax_cents, draft.gross_cents) == (839, 0, 839)


def test_eu_business_without_vat_id_is_treated_as_a_consumer() -> None:
    assert treatment_for("NL", business=True, vat_id=None).oss


def test_vat_on_the_sum_not_per_line() -> None:
    # three lines of 2.50 net: per line 0.475 -> 0.48 each would make 1.44;
    # on the sum: 7.50 * 0.19 = 1.425 -> 1.43
    draft = build_invoice(
        [charge(250)] * 3, treatment=treatment_for("DE", business=True, vat_id=None),
        prices_include_vat=False,
    )  # fmt: skip
    assert draft.tax_cents == 143


def test_half_cent_boundaries_round_half_up() -> None:
    # 0.50 net * 0.19 = 0.095 -> 0.10 ; 2.50 * 0.19 = 0.475 -> 0.48
    de = treatment_for("DE", business=True, vat_id=None)
    assert build_invoice([charge(50)], treatment=de, prices_include_vat=False).tax_cents == 10
    assert build_invoice([charge(250)], treatment=de, prices_include_vat=False).tax_cents == 48


def test_rate_by_service_date() -> None:
    de = treatment_for("DE", business=True, vat_id=None)
    july_2020 = charge(1000, start=date(2020, 7, 15), end=date(2020, 8, 15))
    draft = build_invoice([july_2020, charge(1000)], treatment=de, prices_include_vat=False)
    assert [(g.rate, g.basis_cents, g.tax_cents) for g in draft.tax_groups] == [
        (Decimal("16"), 1000, 160),
        (Decimal("19"), 1000, 190),
    ]
    assert vat_rate("EE", date(2025, 6, 30)) == 22 and vat_rate("EE", date(2025, 7, 1)) == 24


def test_full_credit_note_nets_to_zero() -> None:
    de = treatment_for("DE", business=False, vat_id=None)
    invoice = build_invoice([charge(999), charge(999)], treatment=de, prices_include_vat=True)
    credit = credit_note(invoice.lines, invoice.tax_groups, de)
    assert (credit.net_cents, credit.tax_cents, credit.gross_cents) == (1679, 319, 1998)
    assert invoice.gross_cents - credit.gross_cents == 0


def test_partial_credit_note() -> None:
    de = treatment_for("DE", business=True, vat_id=None)
    invoice = build_invoice([charge(1000), charge(500)], treatment=de, prices_include_vat=False)
    credit = credit_note(invoice.lines, invoice.tax_groups, de, {2: 300})
    assert (credit.net_cents, credit.tax_cents, credit.gross_cents) == (300, 57, 357)
    with pytest.raises(ValueError):
        credit_note(invoice.lines, invoice.tax_groups, de, {2: 501})


def test_number_format() -> None:
    assert format_number("RE", 2026, 1) == "RE-2026-0000001"


@given(
    st.lists(st.integers(min_value=-50_000, max_value=500_000), min_size=1, max_size=30),
    st.sampled_from(["DE", "FR", "HU", "AT", "CH"]),
    st.booleans(),
    st.booleans(),
)
def test_totals_are_the_sum_of_lines(
    amounts: list[int], country: str, business: bool, gross: bool
) -> None:
    treatment = treatment_for(country, business=business, vat_id="X" if business else None)
    draft = build_invoice(
        [charge(a) for a in amounts], treatment=treatment, prices_include_vat=gross
    )
    assert draft.net_cents == sum(line.net_cents for line in draft.lines)
    assert draft.gross_cents == draft.net_cents + draft.tax_cents
    for group in draft.tax_groups:  # BR-CO-17: within one cent of round(basis x rate)
        exact = Decimal(group.basis_cents) * group.rate / 100
        assert abs(group.tax_cents - exact) <= 1
    if gross and treatment.category is TaxCategory.STANDARD:
        assert draft.gross_cents == sum(amounts)  # the consumer pays exactly the catalog prices
