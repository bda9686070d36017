"""E-mails: jinja2 templates (plain text + HTML, German or English) into one MIME message.

The Message-ID is derived from the document and purpose, never random: a message sent
twice carries the same id, so mail systems can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from email._policybase import Compat32
from email.generator import NLCRE, BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from functools import lru_cache
from html import escape
from io import BytesIO
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from segno import helpers as qr_helpers

from documents.letters import CancellationLetter, cancellation_paragraphs
from documents.model import InvoiceDoc, euros
from documents.pdf import _day, _grouped, _money, masked_iban

TEMPLATES = Path(__file__).parent / "templates" / "mail"
QR_CID = "girocode"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str  # "application/pdf"


@dataclass(frozen=True)
class MailContent:
    recipient: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    inline_images: dict[str, bytes] = field(default_factory=dict)  # content-id -> PNG


def message_id(purpose: str, reference: str, sender: str) -> str:
    """``<invoice.RE-2026-0000001@faktura.example>``: the same for every send of this mail."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "faktura.local"
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", f"{purpose}.{reference}")
    return f"<{safe}@{domain}>"


def _boundary(msgid: str, kind: str) -> str:
    """A MIME boundary that cannot occur in a part: every part is base64, whose alphabet has
    neither ``.`` nor ``_``."""
    return f"faktura.{kind}_{hashlib.sha256(msgid.encode()).hexdigest()[:24]}"


def build_message(content: MailContent, *, sender: str, msgid: str, now: datetime) -> Message:
    """The MIME message: text and HTML alternatives (the HTML with its inline images) and the
    attachments.

    Built with the classic ``email.mime`` classes: building and flattening them costs 40 %
    less than ``EmailMessage`` with its header registry (measured 6 against 10 ms per
    invoice mail), and the wire format is the same MIME. The boundaries come from the
    Message-ID: the generator would otherwise search every part's text for a random one
    (~1 ms per invoice mail), and a resent mail is the same bytes.
    """
    body = MIMEMultipart("alternative", boundary=_boundary(msgid, "alternative"))
    body.attach(MIMEText(content.text, "plain", "utf-8"))
    html = MIMEText(content.html, "html", "utf-8")
    if content.inline_images:
        related = MIMEMultipart("related", boundary=_boundary(msgid, "related"))
        related.attach(html)
        for cid, png in content.inline_images.items():
            image = MIMEImage(png, "png")
            image.add_header("Content-ID", f"<{cid}>")
            image.add_header("Content-Disposition", "inline", filename=f"{cid}.png")
            related.attach(image)
        body.attach(related)
    else:
        body.attach(html)
    message: Message = body
    if content.attachments:
        message = MIMEMultipart("mixed", boundary=_boundary(msgid, "mixed"))
        message.attach(body)
        for attachment in content.attachments:
            part = MIMEApplication(attachment.content, attachment.mime.split("/")[1])
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            message.attach(part)
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = content.recipient
    message["Subject"] = Header(content.subject, "utf-8")
    message["Message-ID"] = msgid
    message["Date"] = format_datetime(now)
    message["Auto-Submitted"] = "auto-generated"
    return message


class _WirePolicy(Compat32):
    """``compat32`` with CRLF line ends whose folding passes a short ASCII header as it is:
    the stdlib builds a ``Header`` for every one (~30 per invoice mail) only to return the
    same text. Anything else goes the stdlib's way, except with ``utf8`` (RFC 6532, for a
    mail sent with SMTPUTF8): a non-ASCII header is written in UTF-8 as it is. compat32
    would make it an RFC 2047 encoded word, which an address must not contain: a mail
    program would not show ``To: zoë@exämple.org`` as an address at all."""

    utf8 = False

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        plain = isinstance(value, str) and "\n" not in value and "\r" not in value
        if (
            plain and value.isascii() and len(name) + len(value) + 2 <= (self.max_line_length or 0)
        ) or (plain and self.utf8 and not value.isascii()):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]

    def fold_binary(self, name: str, value: Any) -> bytes:
        if not self.utf8:
            return super().fold_binary(name, value)
        return self._fold(name, value, sanitize=self.cte_type == "7bit").encode(
            "utf-8", "surrogateescape"
        )


class _WireGenerator(BytesGenerator):
    def _write_lines(self, lines: str) -> None:
        """A part's text in one write instead of two per line (a PDF is ~1,000 lines);
        the stdlib writes each piece of ``NLCRE.split`` and the line end between them."""
        if lines:
            self.write(NLCRE.sub(self._NL, lines))  # type: ignore[attr-defined]


WIRE_POLICY = _WirePolicy(linesep="\r\n")
UTF8_WIRE_POLICY = WIRE_POLICY.clone(utf8=True)


def wire_bytes(message: Message, *, utf8: bool = False) -> bytes:
    """The message as SMTP carries it, with CRLF line ends: the same bytes as the stdlib's
    generator writes, in less than half its time (tests/unit/test_mail.py). ``utf8``: for
    SMTPUTF8, non-ASCII headers in UTF-8 (RFC 6532)."""
    out = BytesIO()
    policy = UTF8_WIRE_POLICY if utf8 else WIRE_POLICY
    _WireGenerator(out, mangle_from_=False, policy=policy).flatten(message)
    return out.getvalue()


def envelope(message: Message) -> tuple[str, list[str]]:
    """Sender and recipients for the SMTP envelope, from From and To (no Cc or Bcc here)."""
    sender = parseaddr(message["From"])[1]
    return sender, [address for _, address in getaddresses(message.get_all("To", []))]


@lru_cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        keep_trailing_newline=True,
    )


def _texts(language: str, c: dict[str, Any]) -> dict[str, str]:
    """The sentences of the invoice mail in the buyer's language."""
    if language == "de":
        kind = "Rechnungskorrektur" if c["credit"] else "Rechnung"
        return {
            "hello": "Guten Tag",
            "intro": f"anbei erhalten Sie Ihre {kind} {c['number']} vom {c['issue_date']} "
            f"über {c['amount']}.",
            "credited": "Den Betrag schreiben wir Ihnen gut"
            + (f" (Korrektur zu {c['refers_to']})." if c["refers_to"] else "."),
            "prenotification": "Vorabankündigung (Pre-Notification) der SEPA-Lastschrift",
            "amount": "Betrag", "debit_date": "Einzugsdatum", "mandate": "Mandatsreferenz",
            "creditor": "Gläubiger-ID", "account": "Konto",
            "transfer": f"Bitte überweisen Sie {c['amount']} bis zum {c['due_date']}:",
            "payee": "Empfänger", "reference": "Verwendungszweck",
            "girocode": "Mit dem GiroCode in dieser E-Mail füllt Ihre Banking-App "
            "die Überweisung aus.",
            "attachment": "Die Rechnung liegt als PDF bei; sie enthält die Rechnungsdaten auch "
            "maschinenlesbar (ZUGFeRD/Factur-X, EN 16931)."
            + (" Die XRechnung liegt zusätzlich als XML bei." if c["xrechnung"] else ""),
            "regards": "Mit freundlichen Grüßen",
        }  # fmt: skip
    kind = "credit note" if c["credit"] else "invoice"
    return {
        "hello": "Hello",
        "intro": f"please find attached your {kind} {c['number']} of {c['issue_date']} "
        f"for {c['amount']}.",
        "credited": "We credit the amount to your account"
        + (f" (correction of {c['refers_to']})." if c["refers_to"] else "."),
        "prenotification": "Pre-notification of the SEPA direct debit",
        "amount": "Amount", "debit_date": "Debit date", "mandate": "Mandate reference",
        "creditor": "Creditor ID", "account": "Account",
        "transfer": f"Please transfer {c['amount']} by {c['due_date']}:",
        "payee": "Payee", "reference": "Reference",
        "girocode": "Scan the GiroCode in this e-mail with your banking app "
        "to fill in the transfer.",
        "attachment": "The PDF carries the invoice data in machine-readable form as well "
        "(ZUGFeRD/Factur-X, EN 16931)."
        + (" The XRechnung is attached as XML." if c["xrechnung"] else ""),
        "regards": "Kind regards",
    }  # fmt: skip


# Any of the eight QR masks is valid; choosing one saves segno's search for the best, which
# took three quarters of the GiroCode's 14 ms (bench: 14 -> 3 ms per transfer invoice).
GIROCODE_MASK = 4


def girocode_fields(doc: InvoiceDoc) -> dict[str, Any]:
    seller = doc.seller
    return {"name": seller["name"][:70], "iban": seller["iban"], "bic": seller["bic"],
            "amount": euros(doc.gross_cents), "text": doc.number}  # fmt: skip


def girocode_qr(doc: InvoiceDoc, mask: int = GIROCODE_MASK) -> segno.QRCode:
    """EPC QR code ("GiroCode") for the transfer: payee, IBAN, BIC, amount, reference.

    ``make_epc_qr`` minus the mask search: the same validated payload (segno's own, pinned
    in constraints.txt), error level M as the EPC standard demands, and a fixed mask."""
    data = qr_helpers._make_epc_qr_data(**girocode_fields(doc))
    return segno.make_qr(data, error="m", boost_error=False, mask=mask)


def girocode(doc: InvoiceDoc) -> bytes:
    """The GiroCode as PNG, for the transfer mail's HTML part."""
    qr = girocode_qr(doc)
    out = BytesIO()
    qr.save(out, kind="png", scale=4, border=2)
    return out.getvalue()


def invoice_mail(doc: InvoiceDoc, pdf: bytes, xrechnung_xml: bytes | None) -> MailContent:
    """The invoice e-mail: one invoice per mail, PDF attached, payment details in the body."""
    language = doc.buyer.get("language", "de")
    locale = "de_DE" if language == "de" else "en_GB"
    seller, payment = doc.seller, doc.payment
    amount = _money(doc.gross_cents, locale).replace("\xa0", " ")  # plain space in mail
    credit = doc.is_credit_note
    sepa = payment["method"] == "sepa_direct_debit" and not credit
    if language == "de":
        kind = "Rechnungskorrektur" if credit else "Rechnung"
        subject = f"Ihre {kind} {doc.number} über {amount}"
    else:
        kind = "credit note" if credit else "invoice"
        subject = f"Your {kind} {doc.number} for {amount}"
    debit_date = date.fromisoformat(payment["debit_date"]) if sepa else None
    context: dict[str, Any] = {
        "lang": language,
        "subject": subject,
        "greeting_name": doc.buyer["name"],
        "number": doc.number,
        "issue_date": _day(doc.issue_date, locale),
        "amount": amount,
        "credit": credit,
        "refers_to": doc.preceding_number,
        "sepa": sepa,
        "debit_date": _day(debit_date, locale) if debit_date else None,
        "mandate_reference": payment.get("mandate_reference"),
        "creditor_id": payment.get("creditor_id"),
        "masked_iban": masked_iban(payment["iban"]) if sepa else None,
        "due_date": _day(doc.due_date, locale),
        "seller_name": seller["name"],
        "seller_iban": _grouped(seller["iban"]),
        "seller_bic": seller["bic"],
        "seller_email": seller["email"],
        "seller_address": (
            f"{seller['street']} {seller['house_number']}, {seller['postcode']} {seller['city']}"
        ),
        "xrechnung": xrechnung_xml is not None,
        "qr_cid": QR_CID,
    }
    env = _environment()
    t = _texts(language, context)
    text = env.get_template("invoice.txt.j2").render(**context, t=t)
    html = env.get_template("invoice.html.j2").render(**context, t=t)
    attachments = [Attachment(f"{doc.number}.pdf", pdf, "application/pdf")]
    if xrechnung_xml is not None:
        attachments.append(
            Attachment(f"{doc.number}-xrechnung.xml", xrechnung_xml, "application/xml")
        )
    images = {QR_CID: girocode(doc)} if not sepa and not credit else {}
    return MailContent(
        recipient=doc.buyer["email"],
        subject=subject,
        text=text,
        html=html,
        attachments=tuple(attachments),
        inline_images=images,
    )


DUNNING_SUBJECTS = {
    "de": {"reminder": "Zahlungserinnerung", "first_notice": "1. Mahnung",
           "final_notice": "Letzte Mahnung"},
    "en": {"reminder": "Payment reminder", "first_notice": "First reminder",
           "final_notice": "Final reminder"},
}  # fmt: skip


def dunning_mail(doc: InvoiceDoc, step: str, letter_pdf: bytes) -> MailContent:
    """A dunning letter by e-mail: the letter is the attached PDF, the mail says why."""
    language = doc.buyer.get("language", "de")
    title = DUNNING_SUBJECTS[language][step]
    if language == "de":
        subject = f"{title} zu Rechnung {doc.number}"
        text = (
            f"Guten Tag {doc.buyer['name']},\n\nzu unserer Rechnung {doc.number} ist noch ein "
            "Betrag offen. Einzelheiten finden Sie im beigefügten Schreiben.\n\n"
            f"Mit freundlichen Grüßen\n{doc.seller['name']}\n"
        )
    else:
        subject = f"{title}: invoice {doc.number}"
        text = (
            f"Hello {doc.buyer['name']},\n\nan amount of our invoice {doc.number} is still "
            "open. Please see the attached letter.\n\n"
            f"Kind regards\n{doc.seller['name']}\n"
        )
    html = (
        "<html><body><p>"
        + "</p><p>".join(escape(part).replace("\n", "<br>") for part in text.strip().split("\n\n"))
        + "</p></body></html>"
    )
    return MailContent(
        recipient=doc.buyer["email"],
        subject=subject,
        text=text,
        html=html,
        attachments=(Attachment(f"{doc.number}-{step}.pdf", letter_pdf, "application/pdf"),),
    )


def notice_mail(doc: InvoiceDoc, kind: str, debit: Any | None) -> MailContent:
    """After a return debit: the new pre-notification, or the request for a new mandate."""
    language = doc.buyer.get("language", "de")
    locale = "de_DE" if language == "de" else "en_GB"
    name, seller = doc.buyer["name"], doc.seller
    if kind == "represent":
        assert debit is not None
        amount = _money(debit.amount_cents, locale).replace("\xa0", " ")
        day = _day(debit.collection_date, locale)
        if language == "de":
            subject = f"Erneuter Lastschrifteinzug zu Rechnung {doc.number}"
            body = (
                f"die Lastschrift zu Rechnung {doc.number} wurde von Ihrer Bank zurückgegeben. "
                f"Wir ziehen {amount} am {day} erneut ein (Mandatsreferenz "
                f"{debit.mandate_reference}, Gläubiger-ID {seller['creditor_id']}). "
                "Bitte sorgen Sie für Deckung."
            )
        else:
            subject = f"Second direct debit for invoice {doc.number}"
            body = (
                f"your bank returned the direct debit for invoice {doc.number}. We will collect "
                f"{amount} again on {day} (mandate reference {debit.mandate_reference}, "
                f"creditor ID {seller['creditor_id']})."
            )
    else:
        amount = _money(doc.gross_cents, locale).replace("\xa0", " ")
        if language == "de":
            subject = f"Lastschrift zu Rechnung {doc.number} zurückgegeben"
            body = (
                f"die Lastschrift zu Rechnung {doc.number} wurde zurückgegeben; wir ziehen "
                f"keine weiteren Beträge von diesem Konto ein. Bitte überweisen Sie {amount} "
                f"auf IBAN {_grouped(seller['iban'])} (Verwendungszweck {doc.number}) und "
                "senden Sie uns für künftige Rechnungen ein neues SEPA-Lastschriftmandat."
            )
        else:
            subject = f"Direct debit for invoice {doc.number} returned"
            body = (
                f"the direct debit for invoice {doc.number} was returned; we will not debit "
                f"this account again. Please transfer {amount} to IBAN "
                f"{_grouped(seller['iban'])} (reference {doc.number}) and send us a new SEPA "
                "direct debit mandate for future invoices."
            )
    hello = "Guten Tag" if language == "de" else "Hello"
    text = f"{hello} {name},\n\n{body}\n\n{seller['name']}\n"
    html = (
        f"<html><body><p>{escape(hello)} {escape(name)},</p><p>{escape(body)}</p>"
        f"<p>{escape(seller['name'])}</p></body></html>"
    )
    return MailContent(recipient=doc.buyer["email"], subject=subject, text=text, html=html)


def cancellation_mail(letter: CancellationLetter, letter_pdf: bytes) -> MailContent:
    """The cancellation confirmation: the e-mail itself states it (text form, §126b BGB);
    the letter is attached for the customer's files."""
    de = letter.language == "de"
    reference = letter.contract_reference
    if letter.by_provider and de:
        subject = f"Kündigung Ihres Vertrags {reference}"
    elif letter.by_provider:
        subject = f"Termination of your contract {reference}"
    elif letter.kind == "withdrawal":
        subject = (
            f"{letter.title} für Ihren Vertrag {reference}"
            if de
            else (f"{letter.title}: contract {reference}")
        )
    elif de:
        subject = f"Kündigungsbestätigung für Ihren Vertrag {reference}"
    else:
        subject = f"Confirmation of cancellation: contract {reference}"
    hello = ("Guten Tag " if de else "Hello ") + letter.buyer["name"] + ","
    regards = "Mit freundlichen Grüßen" if de else "Kind regards"
    parts = [hello, *cancellation_paragraphs(letter), f"{regards}\n{letter.seller['name']}"]
    text = "\n\n".join(parts) + "\n"
    html = (
        "<html><body><p>"
        + "</p><p>".join(escape(part).replace("\n", "<br>") for part in parts)
        + "</p></body></html>"
    )
    filename = (
        f"{letter.contract_reference}-kuendigung.pdf"
        if de
        else (f"{letter.contract_reference}-cancellation.pdf")
    )
    return MailContent(
        recipient=letter.buyer["email"],
        subject=subject,
        text=text,
        html=html,
        attachments=(Attachment(filename, letter_pdf, "application/pdf"),),
    )
