"""The cancellation confirmation (§312k BGB) as letter and e-mail: it states the declaration,
the receipt time in German time, the contract and its end; the same letter is the same bytes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from io import BytesIO

from pypdf import PdfReader

from documents.letters import CancellationLetter, render_cancellation_letter
from documents.mail import build_message, cancellation_mail
from documents.samples import sample_invoice

BUYER = sample_invoice().buyer
LETTER = CancellationLetter(
    contract_reference="V-2026-0815",
    kind="ordinary",
    received_at=datetime(2026, 11, 27, 14, 54, tzinfo=UTC),  # winter: 15:54 in Germany
    end_date=date(2026, 12, 27),
    reason=None,
    items=["Webhosting M (mustermann.de)", "Domain .de (mustermann.de)"],
    recorded_at=datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    seller=sample_invoice().seller,
    buyer=BUYER,
)


def _text(pdf: bytes) -> str:
    return " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())


def test_the_letter_states_receipt_contract_and_end() -> None:
    pdf = render_cancellation_letter(LETTER)
    text = _text(pdf)
    for said in (
        "Kündigungsbestätigung",
        "Guten Tag Max Mustermann,",
        "ordentlichen Kündigung am 27.11.2026 um 15:54 Uhr",
        "V-2026-0815 (Webhosting M (mustermann.de), Domain .de (mustermann.de))",
        "endet mit Ablauf des 27.12.2026",
        "K-100042",
        "30.11.2026",  # the letter's date: when the cancellation was recorded
    ):
        assert said in text, said
    assert render_cancellation_letter(LETTER) == pdf  # archived once, re-rendered alike


def test_summer_time_an_extraordinary_cancellation_and_its_reason() -> None:
    letter = dataclasses.replace(
        LETTER,
        kind="extraordinary",
        received_at=datetime(2027, 7, 1, 22, 30, tzinfo=UTC),  # summer: 00:30 on July 2
        reason="Umzug ins Ausland",
    )
    text = _text(render_cancellation_letter(letter))
    assert "außerordentlichen Kündigung am 02.07.2027 um 00:30 Uhr" in text
    assert "Angegebener Grund: Umzug ins Ausland" in text


def test_in_english() -> None:
    letter = dataclasses.replace(LETTER, buyer={**BUYER, "language": "en"})
    text = _text(render_cancellation_letter(letter))
    assert "Confirmation of cancellation" in text
    assert "ordinary cancellation on 27 Nov 2026 at 15:54 (German time)" in text
    assert "ends at the end of 27 Dec 2026" in text


def test_the_mail_itself_is_the_confirmation_with_the_letter_attached() -> None:
    pdf = render_cancellation_letter(LETTER)
    content = cancellation_mail(LETTER, pdf)
    assert content.recipient == "max@example.org"
    assert content.subject == "Kündigungsbestätigung für Ihren Vertrag V-2026-0815"
    assert "ordentlichen Kündigung am 27.11.2026 um 15:54 Uhr" in content.text
    assert "endet mit Ablauf des 27.12.2026" in content.text
    assert "27.12.2026" in content.html
    message = build_message(
        content,
        sender="rechnung@hoster.example",
        msgid="<c@x>",
        now=datetime(2026, 11, 30, tzinfo=UTC),
    )
    attached = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert [part.get_payload(decode=True) for part in attached] == [pdf]


def test_our_own_termination_is_no_confirmation_of_a_declaration() -> None:
    """The dunning ladder's termination: the letter terminates, it confirms no receipt."""
    ours = dataclasses.replace(LETTER, kind="extraordinary", by_provider=True, reason="x")
    text = _text(render_cancellation_letter(ours))
    assert "Kündigung Ihres Vertrags" in text and "Kündigungsbestätigung" not in text
    assert "kündigen den Vertrag deshalb außerordentlich" in text
    assert "endet mit Ablauf des 27.12.2026" in text
    assert "Eingang" not in text and "Grund" not in text
    content = cancellation_mail(ours, b"%PDF")
    assert content.subject == "Kündigung Ihres Vertrags V-2026-0815"
    assert "unbezahlt" in content.text and "Eingang" not in content.text
    english = cancellation_mail(dataclasses.replace(ours, buyer={**BUYER, "language": "en"}), b"")
    assert english.subject == "Termination of your contract V-2026-0815"
    assert "terminate the contract for cause" in english.text


def test_the_api_receipt_gives_the_letters_german_time() -> None:
    """The CRM's answer and the customer's letter name one moment on one clock."""
    from api.routes.contracts import receipt_text

    winter = receipt_text(LETTER.received_at, "V-2026-0815", LETTER.end_date)
    assert "Kündigung am 27.11.2026 um 15:54 Uhr für den Vertrag V-2026-0815." in winter
    assert "endet mit Ablauf des 27.12.2026" in winter
    summer = receipt_text(datetime(2027, 7, 1, 22, 30, tzinfo=UTC), "V-1", None)
    assert "am 02.07.2027 um 00:30 Uhr" in summer
    assert "UTC" not in winter + summer


def test_a_withdrawal_is_confirmed_as_such() -> None:
    """§357a BGB: the days served are paid pro rata, the rest and the set-up fee return."""
    letter = dataclasses.replace(LETTER, kind="withdrawal", end_date=date(2026, 11, 27))
    text = _text(render_cancellation_letter(letter))
    assert "Widerrufsbestätigung" in text
    assert "Eingang Ihres Widerrufs am 27.11.2026 um 15:54 Uhr" in text
    assert "enden mit Ablauf des 27.11.2026" in text and "Einrichtungsgebühr" in text
    mail = cancellation_mail(letter, b"%PDF")
    assert mail.subject == "Widerrufsbestätigung für Ihren Vertrag V-2026-0815"
    english = dataclasses.replace(letter, buyer={**BUYER, "language": "en"})
    assert cancellation_mail(english, b"%PDF").subject == (
        "Confirmation of withdrawal: contract V-2026-0815"
    )
