"""VAT for electronically supplied services from a German seller (§3a Abs. 2, 5 UStG).

* buyer in Germany                        -> standard rate 19 % (category S)
* EU business with a VAT ID               -> reverse charge (category AE, 0 %)
* EU consumer (or business without VAT ID) -> destination country's rate (OSS, category S)
* outside the EU                          -> not taxable in Germany (category O)

Rates are dated and chosen by the service date. [StB] verify the table before going live.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

SELLER_COUNTRY = "DE"

# Standard VAT rates of the EU-27: (valid_from, rate) per country, oldest first.
STANDARD_RATES: dict[str, tuple[tuple[date, Decimal], ...]] = {
    "AT": ((date(2000, 1, 1), Decimal("20")),),
    "BE": ((date(2000, 1, 1), Decimal("21")),),
    "BG": ((date(2000, 1, 1), Decimal("20")),),
    "CY": ((date(2014, 1, 13), Decimal("19")),),
    "CZ": ((date(2013, 1, 1), Decimal("21")),),
    "DE": (
        (date(2007, 1, 1), Decimal("19")),
        (date(2020, 7, 1), Decimal("16")),
        (date(2021, 1, 1), Decimal("19")),
    ),
    "DK": ((date(2000, 1, 1), Decimal("25")),),
    "EE": ((date(2009, 7, 1), Decimal("20")), (date(2024, 1, 1), Decimal("22")),
           (date(2025, 7, 1), Decimal("24"))),
    "ES": ((date(2012, 9, 1), Decimal("21")),),
    "FI": ((date(2013, 1, 1), Decimal("24")), (date(2024, 9, 1), Decimal("25.5"))),
    "FR": ((date(2014, 1, 1), Decimal("20")),),
    "GR": ((date(2016, 6, 1), Decimal("24")),),
    "HR": ((date(2013, 1, 1), Decimal("25")),),
    "HU": ((date(2012, 1, 1), Decimal("27")),),
    "IE": ((date(2021, 3, 1), Decimal("23")),),
    "IT": ((date(2013, 10, 1), Decimal("22")),),
    "LT": ((date(2009, 9, 1), Decimal("21")),),
    "LU": ((date(2015, 1, 1), Decimal("17")), (date(2023, 1, 1), Decimal("16")),
           (date(2024, 1, 1), Decimal("17"))),
    "LV": ((date(2011, 7, 1), Decimal("21")),),
    "MT": ((date(2000, 1, 1), Decimal("18")),),
    "NL": ((date(2019, 1, 1), Decimal("21")),),
    "PL": ((date(2011, 1, 1), Decimal("23")),),
    "PT": ((date(2011, 1, 1), Decimal("23")),),
    "RO": ((date(2017, 1, 1), Decimal("19")), (date(2025, 8, 1), Decimal("21"))),
    "SE": ((date(2000, 1, 1), Decimal("25")),),
    "SI": ((date(2013, 7, 1), Decimal("22")),),
    "SK": ((date(2011, 1, 1), Decimal("20")), (date(2025, 1, 1), Decimal("23"))),
}  # fmt: skip
EU_COUNTRIES = frozenset(STANDARD_RATES)


class TaxCategory(StrEnum):
    """EN 16931 VAT category codes (UNTDID 5305) that faktura uses."""

    STANDARD = "S"
    REVERSE_CHARGE = "AE"
    NOT_SUBJECT = "O"


REVERSE_CHARGE_NOTE = "Steuerschuldnerschaft des Leistungsempfängers"
NOT_SUBJECT_NOTE = "Nicht im Inland steuerbare Leistung (§ 3a Abs. 2 bzw. 5 UStG)"


@dataclass(frozen=True)
class TaxTreatment:
    category: TaxCategory
    rate_country: str | None  # whose rate applies; None for 0 % categories
    oss: bool = False
    note: str | None = None
    exemption_code: str | None = None  # BT-121


def treatment_for(country: str, *, business: bool, vat_id: str | None) -> TaxTreatment:
    """The tax case of a buyer (the customer's billing address decides the country)."""
    if country == SELLER_COUNTRY:
        return TaxTreatment(TaxCategory.STANDARD, SELLER_COUNTRY)
    if country in EU_COUNTRIES:
        if business and vat_id:
            return TaxTreatment(
                TaxCategory.REVERSE_CHARGE, None, note=REVERSE_CHARGE_NOTE,
                exemption_code="VATEX-EU-AE",
            )  # fmt: skip
        return TaxTreatment(TaxCategory.STANDARD, country, oss=True)
    return TaxTreatment(
        TaxCategory.NOT_SUBJECT, None, note=NOT_SUBJECT_NOTE, exemption_code="VATEX-EU-O"
    )


def vat_rate(country: str, on: date) -> Decimal:
    """The standard rate of ``country`` in force on ``on``."""
    rate = None
    for valid_from, value in STANDARD_RATES[country]:
        if valid_from <= on:
            rate = value
    if rate is None:
        raise LookupError(f"no VAT rate for {country} on {on}")
    return rate


def rate_for(treatment: TaxTreatment, on: date) -> Decimal:
    return vat_rate(treatment.rate_country, on) if treatment.rate_country else Decimal(0)
