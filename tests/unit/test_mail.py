"""The invoice mail on the wire: its MIME boundaries come from the Message-ID."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email import message_from_bytes, policy

from aiosmtplib.email import flatten_message
from aiosmtplib.protocol import normalize_message_line_endings

from documents.mail import (
    build_message,
    cancellation_mail,
    dunning_mail,
    envelope,
    invoice_mail,
    wire_bytes,
)
from documents.samples import sample_invoice
from tests.unit.test_cancellation_letter import LETTER

SENDER = "Hoster GmbH <rechnung@hoster.example>"
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def _transfer_invoice_mail():  # type: ignore[no-untyped-def]
    doc = sample_invoice("RE-2026-0000042")
    doc = dataclasses.replace(doc, payment={**doc.payment, "method": "bank_transfer"})
    return invoice_mail(doc, b"%PDF-1.7 not a real one", b"<Invoice/>")


def test_the_same_mail_is_the_same_bytes_and_another_mail_has_other_boundaries() -> None:
    content = _transfer_invoice_mail()
    first = flatten_message(build_message(content, sender=SENDER, msgid="<a@x>", now=NOW))
    again = flatten_message(build_message(content, sender=SENDER, msgid="<a@x>", now=NOW))
    other = build_message(content, sender=SENDER, msgid="<b@x>", now=NOW)
    assert first == again
    assert other.get_boundary() not in first.decode()


def test_every_part_arrives_whole() -> None:
    content = _transfer_invoice_mail()
    wire = flatten_message(build_message(content, sender=SENDER, msgid="<a@x>", now=NOW))
    received = message_from_bytes(wire, policy=policy.default)
    types = [part.get_content_type() for part in received.walk()]
    assert types == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related",
        "text/html", "image/png", "application/pdf", "application/xml",
    ]  # fmt: skip
    parts = {part.get_content_type(): part for part in received.walk()}
    assert parts["text/plain"].get_content() == content.text
    assert parts["text/html"].get_content() == content.html
    assert parts["image/png"].get_content() == content.inline_images["girocode"]
    assert parts["application/pdf"].get_content() == b"%PDF-1.7 not a real one"
    assert parts["application/xml"].get_content() == b"<Invoice/>"
    assert received["Message-ID"] == "<a@x>"


def _mails():  # type: ignore[no-untyped-def]
    sepa = sample_invoice("RE-2026-0000043")
    english = dataclasses.replace(
        sepa, buyer={**sepa.buyer, "language": "en", "name": "Zoë Ærøskøbing-Müller " * 4}
    )
    yield invoice_mail(sepa, b"%PDF sepa", None)
    yield _transfer_invoice_mail()
    yield invoice_mail(english, b"%PDF en", b"<Invoice/>")
    yield dunning_mail(sepa, "first_notice", b"%PDF letter")
    yield cancellation_mail(LETTER, b"%PDF confirmation")


def test_the_wire_bytes_are_what_aiosmtplib_would_send() -> None:
    """Our generator skips work, not bytes: for every kind of mail the bytes equal what
    aiosmtplib's own flattening puts on the wire (line ends normalised to CRLF)."""
    sender = '"Hoster Müller & Söhne GmbH, Forderungsmanagement" <rechnung@hoster.example>'
    for content in _mails():
        message = build_message(content, sender=sender, msgid="<m@x>", now=NOW)
        expected = normalize_message_line_endings(flatten_message(message))
        assert wire_bytes(message) == expected
        assert envelope(message) == ("rechnung@hoster.example", [content.recipient])
