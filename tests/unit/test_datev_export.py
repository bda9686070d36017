"""The DATEV export's bookings (reference §5.1) and its EXTF file (§5.3, checklist
ACC-01): every amount, account and field below is written out by hand."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from documents.datev import COLUMNS, BatchHeader, render_extf
from domain.accounting import (
    SKR03,
    SKR04,
    BankMovement,
    IssuedDocument,
    UnmappedTaxCase,
    document_bookings,
    into_period,
    movement_bookings,
)
from domain.invoicing import TaxGroup
from domain.tax import TaxCategory

CHART = dataclasses.replace(SKR03, oss_revenue="8320", oss_tax_key="240")  # the advisor's
S19 = TaxGroup(TaxCategory.STANDARD, Decimal(19), 1679, 319)  # 16.79 + 19 % = 19.98
INVOICE = IssuedDocument(
    number="RE-2026-0000101", credit_note=False, issue_date=date(2026, 11, 12),
    due_date=date(2026, 11, 26), service_start=date(2026, 11, 12),
    buyer_name="Erika Musterfrau", buyer_country="DE", buyer_vat_id=None, oss=False,
    groups=(S19,),
)  # fmt: skip
HEADER = BatchHeader(
    consultant=1001, client=1, fiscal_year_start=date(2026, 1, 1), account_length=4,
    first_day=date(2026, 11, 1), last_day=date(2026, 11, 30), title="faktura 2026-11",
    created=datetime(2026, 12, 3, 4, 0, 0, 123000, tzinfo=UTC), locked=False, skr="03",
)  # fmt: skip


def test_a_german_invoice_is_booked_gross_on_the_automatic_revenue_account() -> None:
    [booking] = document_bookings(INVOICE, CHART)
    assert (booking.amount_cents, booking.side, booking.account, booking.contra_account) == (
        1998, "S", "1400", "8400",
    )  # fmt: skip
    assert (booking.day, booking.document, booking.tax_key) == (
        date(2026, 11, 12), "RE-2026-0000101", "",
    )  # fmt: skip
    assert (booking.service_day, booking.due_day) == (date(2026, 11, 12), date(2026, 11, 26))
    [skr04] = document_bookings(INVOICE, SKR04)
    assert (skr04.account, skr04.contra_account) == ("1200", "4400")


def test_a_credit_note_is_booked_on_the_other_side_and_names_its_invoice() -> None:
    note = dataclasses.replace(
        INVOICE, number="GS-2026-0000007", credit_note=True, corrects="RE-2026-0000101"
    )
    [booking] = document_bookings(note, CHART)
    assert (booking.amount_cents, booking.side, booking.contra_account) == (1998, "H", "8400")
    assert booking.document == "GS-2026-0000007"
    assert booking.text == "Gutschrift zu RE-2026-0000101 Erika Musterfrau"
    assert booking.due_day is None


def test_reverse_charge_carries_the_buyers_vat_id_and_no_tax() -> None:
    document = dataclasses.replace(
        INVOICE, buyer_country="AT", buyer_vat_id="atu 13585627",
        groups=(TaxGroup(TaxCategory.REVERSE_CHARGE, Decimal(0), 1678, 0),),
    )  # fmt: skip
    [booking] = document_bookings(document, CHART)
    assert (booking.amount_cents, booking.contra_account) == (1678, "8336")
    assert booking.eu_country_or_vat_id == "ATU13585627"
    with pytest.raises(UnmappedTaxCase, match="VAT ID"):
        document_bookings(dataclasses.replace(document, buyer_vat_id=None), CHART)


def test_oss_carries_its_key_country_and_rate_and_needs_the_advisors_account() -> None:
    at = dataclasses.replace(
        INVOICE, buyer_country="AT", oss=True,
        groups=(TaxGroup(TaxCategory.STANDARD, Decimal(20), 1665, 333),),  # 19.98 at 20 %
    )  # fmt: skip
    [booking] = document_bookings(at, CHART)
    assert (booking.amount_cents, booking.contra_account, booking.tax_key) == (1998, "8320", "240")
    assert (booking.eu_country_or_vat_id, booking.eu_rate) == ("AT", Decimal(20))
    greek = dataclasses.replace(at, buyer_country="GR")
    assert document_bookings(greek, CHART)[0].eu_country_or_vat_id == "EL"
    with pytest.raises(UnmappedTaxCase, match="FAKTURA_ACCOUNTING__OSS_REVENUE_ACCOUNT"):
        document_bookings(at, SKR03)


def test_other_cases_outside_germany_and_unknown_rates() -> None:
    abroad = dataclasses.replace(
        INVOICE, buyer_country="CH",
        groups=(TaxGroup(TaxCategory.NOT_SUBJECT, Decimal(0), 1678, 0),),
    )  # fmt: skip
    assert document_bookings(abroad, CHART)[0].contra_account == "8338"
    old_rate = dataclasses.replace(
        INVOICE, groups=(TaxGroup(TaxCategory.STANDARD, Decimal(16), 1000, 160),)
    )
    with pytest.raises(UnmappedTaxCase, match="16 %"):
        document_bookings(old_rate, CHART)


def test_a_group_of_zero_is_left_out_and_a_negative_one_changes_sides() -> None:
    document = dataclasses.replace(
        INVOICE,
        groups=(TaxGroup(TaxCategory.STANDARD, Decimal(19), 0, 0),
                TaxGroup(TaxCategory.STANDARD, Decimal(7), -1000, -70)),
    )  # fmt: skip
    [booking] = document_bookings(document, CHART)
    assert (booking.amount_cents, booking.side, booking.contra_account) == (1070, "H", "8300")


def test_money_in_and_a_return_debit_with_the_banks_fee() -> None:
    paid = BankMovement("RE-2026-0000101", date(2026, 11, 20), 1998,
                        payer="Erika Musterfrau")  # fmt: skip
    [payment] = movement_bookings(paid, CHART)
    assert (payment.amount_cents, payment.side, payment.account, payment.contra_account) == (
        1998, "S", "1200", "1400",
    )  # fmt: skip
    assert payment.document == "RE-2026-0000101"
    # the bank takes back the 19.98 it collected plus its fee of 3.00: -22.98 on the statement
    returned = BankMovement("RE-2026-0000101", date(2026, 11, 24), -2298, 300,
                            return_reason="MD06")  # fmt: skip
    back, fee = movement_bookings(returned, CHART)
    assert (back.amount_cents, back.side, back.account, back.contra_account) == (
        1998, "H", "1200", "1400",
    )  # fmt: skip
    assert (fee.amount_cents, fee.side, fee.contra_account) == (300, "H", "4970")
    assert "MD06" in back.text


def test_a_booking_of_an_exported_month_goes_into_the_next_batch_on_its_first_day() -> None:
    late = movement_bookings(BankMovement("RE-2026-0000101", date(2026, 10, 30), 1998), CHART)[0]
    moved = into_period(late, date(2026, 11, 1))
    assert moved.day == date(2026, 11, 1)
    assert moved.text.endswith("vom 30.10.2026")
    on_time = dataclasses.replace(late, day=date(2026, 11, 2))
    assert into_period(on_time, date(2026, 11, 1)) is on_time


def _lines(content: bytes) -> list[list[str]]:
    text = content.decode("cp1252")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_the_file_is_extf_700_with_31_header_fields_and_125_columns() -> None:
    bookings = [
        *document_bookings(INVOICE, CHART),
        *movement_bookings(
            BankMovement("RE-2026-0000101", date(2026, 11, 24), -2298, 300,
                         return_reason="MD06"), CHART,
        ),
    ]  # fmt: skip
    content = render_extf(HEADER, bookings)
    assert content.count(b"\r\n") == 5 and b"\n" not in content.replace(b"\r\n", b"")
    assert "Rücklastschrift".encode("cp1252") in content  # Windows-1252, not UTF-8
    header, columns, *rows = _lines(content)
    assert len(header) == 31
    # created 04:00:00.123 UTC on Dec 3: 05:00 in Germany
    assert header[:6] == ["EXTF", "700", "21", "Buchungsstapel", "13", "20261203050000123"]
    assert header[10:17] == ["1001", "1", "20260101", "4", "20261101", "20261130",
                             "faktura 2026-11"]  # fmt: skip
    assert (header[18], header[20], header[21], header[26]) == ("1", "0", "EUR", "03")
    assert columns == list(COLUMNS) and len(columns) == 125
    assert columns[20] == "Beleginfo – Art 1" and columns[-1] == "Abw. Skontokonto"
    assert [len(row) for row in rows] == [125, 125, 125]


def test_a_booking_line_field_by_field() -> None:
    content = render_extf(HEADER, document_bookings(INVOICE, CHART))
    line = content.split(b"\r\n")[2].decode("cp1252")
    expected = [""] * 125
    expected[0] = "19,98"
    expected[1] = '"S"'
    expected[2] = '"EUR"'
    expected[6] = "1400"
    expected[7] = "8400"
    expected[9] = "1211"  # Belegdatum TTMM
    expected[10] = '"RE-2026-0000101"'
    expected[13] = '"Rechnung Erika Musterfrau"'
    expected[113] = "0"  # Festschreibung said each time: empty would lock
    expected[114] = "12112026"  # Leistungsdatum
    expected[116] = "26112026"  # Fälligkeit
    assert line == ";".join(expected)


def test_oss_fields_locked_batches_and_text_datev_cannot_hold() -> None:
    at = dataclasses.replace(
        INVOICE, buyer_country="AT", oss=True, buyer_name='Zoë "Ő" Ωmega',
        groups=(TaxGroup(TaxCategory.STANDARD, Decimal("20"), 1665, 333),),
    )  # fmt: skip
    locked = dataclasses.replace(HEADER, locked=True)
    header, _, row = _lines(render_extf(locked, document_bookings(at, CHART)))
    assert header[20] == "1" and row[113] == "1"
    assert (row[8], row[39], row[40]) == ("240", "AT", "20,00")
    assert row[13] == 'Rechnung Zoë "O" ?mega'  # ë is in Windows-1252, Ő and Ω are not


def test_amounts_must_be_positive_and_belegfeld_1_is_checked() -> None:
    [booking] = document_bookings(INVOICE, CHART)
    with pytest.raises(ValueError, match="positive"):
        render_extf(HEADER, [dataclasses.replace(booking, amount_cents=0)])
    with pytest.raises(ValueError, match="Belegfeld 1"):
        render_extf(HEADER, [dataclasses.replace(booking, document="RE 2026_1")])
