"""Letters as PDF/A (same letterhead as the invoices), German or English: dunning letters
and cancellation confirmations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from documents.pdf import _compiler, _day, _environment, _grouped, _money, letterhead
from documents.texts import texts
from domain.berlin_time import berlin_clock, berlin_date

TITLES = {
    "de": {
        "reminder": "Zahlungserinnerung",
        "first_notice": "1. Mahnung",
        "final_notice": "Letzte Mahnung",
    },
    "en": {
        "reminder": "Payment reminder",
        "first_notice": "First reminder",
        "final_notice": "Final reminder",
    },
}


@dataclass(frozen=True)
class DunningLetter:
    step: str
    number: str  # the invoice
    invoice_date: date
    due_date: date
    letter_date: date
    deadline: date
    open_cents: int
    fee_cents: int
    flat_fee_cents: int
    interest_cents: int
    return_fee_cents: int
    default_since: date | None
    seller: dict[str, Any]
    buyer: dict[str, Any]

    @property
    def total_cents(self) -> int:
        return (
            self.open_cents + self.fee_cents + self.flat_fee_cents + self.interest_cents
            + self.return_fee_cents
        )  # fmt: skip


def _paragraphs(letter: DunningLetter, language: str, money: Any, day: Any) -> list[str]:
    seller = letter.seller
    if language == "de":
        intro = [
            f"zu unserer Rechnung {letter.number} vom {day(letter.invoice_date)}, fällig am "
            f"{day(letter.due_date)}, konnten wir noch keinen vollständigen Zahlungseingang "
            "feststellen. Sicher ist das nur ein Versehen."
            if letter.step == "reminder"
            else f"unsere Rechnung {letter.number} vom {day(letter.invoice_date)} ist trotz "
            "Erinnerung noch offen."
        ]
        notes = [
            f"Bitte überweisen Sie {money(letter.total_cents)} bis zum {day(letter.deadline)} "
            f"auf IBAN {_grouped(seller['iban'])}, BIC {seller['bic']}, "
            f"Verwendungszweck {letter.number}."
        ]
        if letter.step == "final_notice":
            notes.append(
                "Geht die Zahlung bis dahin nicht ein, sperren wir Ihre Leistungen (Ihre Daten "
                "und Domains bleiben erhalten) und behalten uns die außerordentliche Kündigung "
                "sowie die Übergabe an ein Inkassounternehmen vor."
            )
        notes.append(
            "Haben Sie inzwischen gezahlt, betrachten Sie dieses Schreiben als gegenstandslos."
        )
        return intro + [""] + notes
    intro = [
        f"our invoice {letter.number} of {day(letter.invoice_date)}, due on "
        f"{day(letter.due_date)}, has not been paid in full yet."
    ]
    notes = [
        f"Please transfer {money(letter.total_cents)} by {day(letter.deadline)} to IBAN "
        f"{_grouped(seller['iban'])}, BIC {seller['bic']}, reference {letter.number}."
    ]
    if letter.step == "final_notice":
        notes.append(
            "If we do not receive the payment by then, we will suspend your services (your data "
            "and domains are kept) and reserve the right to terminate the contract and to hand "
            "the claim over to a collection agency."
        )
    notes.append("If you have paid in the meantime, please disregard this letter.")
    return intro + [""] + notes


def render_dunning_letter(letter: DunningLetter) -> bytes:
    language = letter.buyer.get("language", "de")
    locale = "de_DE" if language == "de" else "en_GB"
    t = texts(language)
    seller, buyer = letter.seller, letter.buyer

    def money(cents: int) -> str:
        return _money(cents, locale)

    def day(value: date) -> str:
        return _day(value, locale)

    paragraphs = _paragraphs(letter, language, money, day)
    split = paragraphs.index("")
    de = language == "de"
    items = [((f"Rechnung {letter.number}" if de else f"Invoice {letter.number}"),
              money(letter.open_cents))]  # fmt: skip
    if letter.return_fee_cents:
        items.append(("Rücklastschriftgebühr der Bank" if de else "Bank return fee",
                      money(letter.return_fee_cents)))  # fmt: skip
    if letter.fee_cents:
        items.append(("Mahnkosten" if de else "Dunning costs", money(letter.fee_cents)))
    if letter.flat_fee_cents:
        items.append(("Verzugspauschale (§ 288 Abs. 5 BGB)" if de else "Flat fee (§ 288 (5) BGB)",
                      money(letter.flat_fee_cents)))  # fmt: skip
    if letter.interest_cents and letter.default_since:
        items.append(((f"Verzugszinsen seit {day(letter.default_since)}" if de
                       else f"Default interest since {day(letter.default_since)}"),
                      money(letter.interest_cents)))  # fmt: skip
    context = {
        **letterhead(seller, buyer, t),
        "lang": language,
        "title": TITLES[language][letter.step],
        "header_rows": [
            ("Datum" if de else "Date", day(letter.letter_date)),
            (t.customer_number, buyer["customer_number"]),
            (t.number, letter.number),
        ],
        "intro": [("Guten Tag " if de else "Hello ") + buyer["name"] + ",", *paragraphs[:split]],
        "items": items,
        "total_label": "Zu zahlen" if de else "Amount due",
        "total": money(letter.total_cents),
        "notes": paragraphs[split + 1 :],
    }
    return _compiled(context, letter.letter_date)


def _compiled(context: dict[str, Any], letter_date: date) -> bytes:
    """The letter as PDF/A; the same bytes for the same context (dated, not timestamped)."""
    markup = _environment().get_template("letter.typ.j2").render(**context)
    stamp = datetime.combine(letter_date, time(0), UTC)
    return _compiler().compile(
        input=markup.encode(), format="pdf", pdf_standards=["a-3b"], timestamp=stamp
    )


@dataclass(frozen=True)
class CancellationLetter:
    """The confirmation §312k BGB asks for: the declaration, its receipt time, the end."""

    contract_reference: str
    kind: str  # ordinary | extraordinary | withdrawal
    received_at: datetime  # aware
    end_date: date  # the last day of service
    reason: str | None
    items: list[str]  # what the contract covers, e.g. "Webhosting M (beispiel.de)"
    recorded_at: datetime  # when the cancellation was recorded: the letter's date
    seller: dict[str, Any]
    buyer: dict[str, Any]
    by_provider: bool = False  # our termination after payment default, not the customer's

    @property
    def language(self) -> str:
        return str(self.buyer.get("language", "de"))

    @property
    def title(self) -> str:
        if self.by_provider:
            de = self.language == "de"
            return "Kündigung Ihres Vertrags" if de else "Termination of your contract"
        if self.kind == "withdrawal":
            return "Widerrufsbestätigung" if self.language == "de" else "Confirmation of withdrawal"
        return "Kündigungsbestätigung" if self.language == "de" else "Confirmation of cancellation"


def cancellation_paragraphs(letter: CancellationLetter) -> list[str]:
    """What the letter and the e-mail say after the greeting: receipt, contract, end."""
    if letter.by_provider:
        return _termination_paragraphs(letter)
    if letter.kind == "withdrawal":
        return _withdrawal_paragraphs(letter)
    received = berlin_clock(letter.received_at)
    covered = ", ".join(letter.items)
    if letter.language == "de":
        kind = "ordentlichen" if letter.kind == "ordinary" else "außerordentlichen"
        said = [
            f"wir bestätigen den Eingang Ihrer {kind} Kündigung am "
            f"{received:%d.%m.%Y um %H:%M} Uhr.",
            f"Gekündigter Vertrag: {letter.contract_reference} ({covered}).",
        ]
        if letter.reason:
            said.append(f"Angegebener Grund: {letter.reason}")
        return [
            *said,
            f"Der Vertrag endet mit Ablauf des {letter.end_date:%d.%m.%Y}. Bis dahin erbringen "
            "wir unsere Leistungen wie vereinbart, danach berechnen wir nichts mehr. Was Sie "
            "für die Zeit nach dem Vertragsende schon bezahlt haben, schreiben wir Ihnen mit "
            "der Schlussabrechnung gut.",
        ]
    kind = "ordinary" if letter.kind == "ordinary" else "extraordinary"
    said = [
        f"we confirm that we received your {kind} cancellation on "
        f"{received:%d %b %Y at %H:%M} (German time).",
        f"Contract cancelled: {letter.contract_reference} ({covered}).",
    ]
    if letter.reason:
        said.append(f"Reason given: {letter.reason}")
    return [
        *said,
        f"The contract ends at the end of {letter.end_date:%d %b %Y}. Until then we provide "
        "our services as agreed; after that we charge nothing more. Whatever you have paid "
        "for the time after the end is credited to you with the final invoice.",
    ]


def _withdrawal_paragraphs(letter: CancellationLetter) -> list[str]:
    """A consumer's withdrawal (§§355, 357a BGB): the contract ends on its receipt; the days
    served are paid pro rata, everything else comes back."""
    received = berlin_clock(letter.received_at)
    covered = ", ".join(letter.items)
    if letter.language == "de":
        return [
            f"wir bestätigen den Eingang Ihres Widerrufs am {received:%d.%m.%Y um %H:%M} Uhr.",
            f"Widerrufener Vertrag: {letter.contract_reference} ({covered}).",
            f"Unsere Leistungen enden mit Ablauf des {letter.end_date:%d.%m.%Y}. Da Sie "
            "gewünscht haben, dass wir schon vor Ende der Widerrufsfrist beginnen, berechnen "
            "wir die Tage bis dahin anteilig (§ 357a Abs. 2 BGB). Alles Weitere, auch eine "
            "Einrichtungsgebühr, erstatten wir Ihnen mit der Schlussabrechnung.",
        ]
    return [
        f"we confirm that we received your withdrawal on {received:%d %b %Y at %H:%M} "
        "(German time).",
        f"Contract withdrawn: {letter.contract_reference} ({covered}).",
        f"Our services end at the end of {letter.end_date:%d %b %Y}. As you asked us to "
        "start before the withdrawal period ended, we charge the days until then pro rata "
        "(§ 357a (2) BGB). Everything else, a set-up fee included, is refunded to you with "
        "the final invoice.",
    ]


def _termination_paragraphs(letter: CancellationLetter) -> list[str]:
    """Our own termination after the dunning ladder ran out (the final notice announced it)."""
    covered = ", ".join(letter.items)
    if letter.language == "de":
        return [
            f"trotz unserer Mahnungen sind Rechnungen zu Ihrem Vertrag {letter.contract_reference} "
            f"({covered}) weiter unbezahlt. Wir kündigen den Vertrag deshalb außerordentlich; er "
            f"endet mit Ablauf des {letter.end_date:%d.%m.%Y}.",
            "Die offenen Beträge bleiben fällig. Was Sie für die Zeit nach dem Vertragsende schon "
            "bezahlt haben, verrechnen wir mit der Schlussabrechnung. Ihre Domains geben wir auf "
            "Wunsch zum Umzug zu einem anderen Anbieter frei.",
        ]
    return [
        f"despite our reminders, invoices for your contract {letter.contract_reference} "
        f"({covered}) are still unpaid. We therefore terminate the contract for cause; it ends "
        f"at the end of {letter.end_date:%d %b %Y}.",
        "The open amounts remain due. Whatever you have paid for the time after the end is set "
        "off in the final invoice. On request we release your domains for a transfer to another "
        "provider.",
    ]


def render_cancellation_letter(letter: CancellationLetter) -> bytes:
    de = letter.language == "de"
    t = texts(letter.language)
    locale = "de_DE" if de else "en_GB"
    letter_date = berlin_date(letter.recorded_at)
    context = {
        **letterhead(letter.seller, letter.buyer, t),
        "lang": letter.language,
        "title": letter.title,
        "header_rows": [
            ("Datum" if de else "Date", _day(letter_date, locale)),
            (t.customer_number, letter.buyer["customer_number"]),
            ("Vertrag" if de else "Contract", letter.contract_reference),
        ],
        "intro": [
            ("Guten Tag " if de else "Hello ") + letter.buyer["name"] + ",",
            *cancellation_paragraphs(letter),
        ],
        "items": [],
        "notes": ["Mit freundlichen Grüßen" if de else "Kind regards", letter.seller["name"]],
    }
    return _compiled(context, letter_date)
