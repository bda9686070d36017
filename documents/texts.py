"""The wording of invoices in German and English (the buyer's language decides)."""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale


@dataclass(frozen=True)
class Texts:
    locale: str
    title: str
    title_credit: str
    number: str
    number_credit: str
    date: str
    customer_number: str
    service_period: str
    your_vat_id: str
    buyer_reference: str
    pos: str
    description: str
    quantity: str
    unit_price: str
    vat: str
    amount: str
    net_total: str
    vat_zero: str
    gross_total: str
    managing_directors: str
    tax_number: str
    vat_id: str
    thanks: str
    default_notice: str
    _vat_on: str
    _oss: str
    _prenotification: str
    _transfer: str
    _credit: str
    _refers_to: str

    def country_name(self, code: str) -> str:
        return Locale.parse(self.locale).territories.get(code, code)

    def vat_on(self, rate: str, basis: str) -> str:
        return self._vat_on.format(rate=rate, basis=basis)

    def oss_note(self, country: str) -> str:
        return self._oss.format(country=country)

    def prenotification(self, amount: str, day: str, iban: str, mandate: str, creditor: str) -> str:
        return self._prenotification.format(
            amount=amount, day=day, iban=iban, mandate=mandate, creditor=creditor
        )

    def transfer(
        self, amount: str, day: str, iban: str, bic: str, bank: str, reference: str
    ) -> str:
        return self._transfer.format(
            amount=amount, day=day, iban=iban, bic=bic, bank=bank, reference=reference
        )

    def credit_settlement(self, amount: str) -> str:
        return self._credit.format(amount=amount)

    def refers_to(self, number: str, day: str) -> str:
        return self._refers_to.format(number=number, day=day)


GERMAN = Texts(
    locale="de_DE",
    title="Rechnung",
    title_credit="Rechnungskorrektur",
    number="Rechnungsnummer",
    number_credit="Korrekturnummer",
    date="Rechnungsdatum",
    customer_number="Kundennummer",
    service_period="Leistungszeitraum",
    your_vat_id="Ihre USt-IdNr.",
    buyer_reference="Leitweg-ID",
    pos="Pos.",
    description="Leistung",
    quantity="Menge",
    unit_price="Einzelpreis netto",
    vat="USt.",
    amount="Betrag netto",
    net_total="Summe netto",
    vat_zero="Umsatzsteuer",
    gross_total="Gesamtbetrag",
    managing_directors="Geschäftsführung",
    tax_number="Steuernummer",
    vat_id="USt-IdNr.",
    thanks="Vielen Dank für Ihr Vertrauen.",
    default_notice=(
        "Sie kommen spätestens 30 Tage nach Fälligkeit und Zugang dieser Rechnung in Verzug, "
        "ohne dass es einer Mahnung bedarf (§ 286 Abs. 3 BGB)."
    ),
    _vat_on="Umsatzsteuer {rate} auf {basis}",
    _oss="Umsatzsteuer nach dem Satz des Bestimmungslands {country} (One-Stop-Shop, § 18j UStG).",
    _prenotification=(
        "Den Betrag von {amount} ziehen wir am {day} per SEPA-Lastschrift von Ihrem Konto "
        "{iban} ein (Mandatsreferenz {mandate}, Gläubiger-ID {creditor}). "
        "Bitte sorgen Sie für ausreichende Deckung."
    ),
    _transfer=(
        "Bitte überweisen Sie {amount} bis zum {day} auf unser Konto IBAN {iban}, BIC {bic} "
        "({bank}). Verwendungszweck: {reference}."
    ),
    _credit="Den Betrag von {amount} schreiben wir Ihnen gut und verrechnen ihn.",
    _refers_to="Korrektur zur Rechnung {number} vom {day}.",
)

ENGLISH = Texts(
    locale="en_GB",
    title="Invoice",
    title_credit="Credit note",
    number="Invoice number",
    number_credit="Credit note number",
    date="Invoice date",
    customer_number="Customer number",
    service_period="Service period",
    your_vat_id="Your VAT ID",
    buyer_reference="Buyer reference",
    pos="No.",
    description="Service",
    quantity="Qty",
    unit_price="Unit price (net)",
    vat="VAT",
    amount="Net amount",
    net_total="Net total",
    vat_zero="VAT",
    gross_total="Total",
    managing_directors="Managing directors",
    tax_number="Tax number",
    vat_id="VAT ID",
    thanks="Thank you for your business.",
    default_notice=(
        "You are in default 30 days after the due date and receipt of this invoice at the "
        "latest, without a reminder (§ 286 (3) BGB)."
    ),
    _vat_on="VAT {rate} on {basis}",
    _oss="VAT at the rate of the country of destination, {country} (One-Stop-Shop).",
    _prenotification=(
        "We will collect {amount} by SEPA direct debit from your account {iban} on {day} "
        "(mandate reference {mandate}, creditor ID {creditor})."
    ),
    _transfer=(
        "Please transfer {amount} by {day} to IBAN {iban}, BIC {bic} ({bank}), "
        "reference: {reference}."
    ),
    _credit="We credit {amount} to your account.",
    _refers_to="Correction of invoice {number} of {day}.",
)


def texts(language: str) -> Texts:
    return GERMAN if language == "de" else ENGLISH
