"""DATEV-Format EXTF 700, category 21 "Buchungsstapel", format version 13 (reference §5.3).

Windows-1252, ``;``, CRLF, decimal comma, text in double quotes. Line 1 is the batch
header (31 fields), line 2 the 125 column headings, then one line per booking. The
headings are DATEV's own as a real export writes them (en dashes, short names).
[StB] Have the tax advisor import a first batch with Festschreibung 0 before going live.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.accounting import Booking
from domain.berlin_time import berlin_clock

COLUMNS: tuple[str, ...] = (
    "Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs",
    "Basisumsatz", "WKZ Basisumsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel", "Belegdatum", "Belegfeld 1", "Belegfeld 2", "Skonto", "Buchungstext",
    "Postensperre", "Diverse Adressnummer", "Geschäftspartnerbank", "Sachverhalt",
    "Zinssperre", "Beleglink",
    *(f"Beleginfo – {part} {n}" for n in range(1, 9) for part in ("Art", "Inhalt")),
    "KOST1 – Kostenstelle", "KOST2 – Kostenstelle", "Kost Menge", "EU-Land u. USt-IdNr.",
    "EU-Steuersatz", "Abw. Versteuerungsart", "Sachverhalt L+L", "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp", "BU 49 Hauptfunktionsnummer", "BU 49 Funktionsergänzung",
    *(f"Zusatzinformation – {part} {n}" for n in range(1, 21) for part in ("Art", "Inhalt")),
    "Stück", "Gewicht", "Zahlweise", "Forderungsart", "Veranlagungsjahr",
    "Zugeordnete Fälligkeit", "Skontotyp", "Auftragsnummer", "Buchungstyp",
    "USt-Schlüssel (Anzahlungen)", "EU-Mitgliedstaat (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)", "EU-Steuersatz (Anzahlungen)", "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz", "Leerfeld", "KOST-Datum", "SEPA-Mandatsreferenz", "Skontosperre",
    "Gesellschaftername", "Beteiligtennummer", "Identifikationsnummer", "Zeichnernummer",
    "Postensperre bis", "Bezeichnung", "Kennzeichen", "Festschreibung", "Leistungsdatum",
    "Datum Zuord.", "Fälligkeit", "Generalumkehr", "Steuersatz", "Land", "Abrechnungsreferent",
    "BVV-Position", "EU-Mitgliedstaat u. UStID (Ursprung)", "EU-Steuersatz (Ursprung)",
    "Abw. Skontokonto",
)  # fmt: skip
AT = {name: index for index, name in enumerate(COLUMNS)}
# Belegfeld 1 is the open item's key: DATEV takes 36 of these characters.
DOCUMENT_KEY = re.compile(r"[A-Za-z0-9$&%*+\-/]{1,36}")
TEXT_LIMIT = 60


@dataclass(frozen=True)
class BatchHeader:
    consultant: int  # Beraternummer
    client: int  # Mandantennummer
    fiscal_year_start: date
    account_length: int  # Sachkontenlänge
    first_day: date
    last_day: date
    title: str  # Bezeichnung, at most 30 characters
    created: datetime  # aware
    locked: bool  # Festschreibung: the advisor's books take the batch as final
    skr: str  # "03" | "04"


def header_line(header: BatchHeader) -> str:
    local = berlin_clock(header.created)  # DATEV's programs read German time
    created = f"{local:%Y%m%d%H%M%S}{local.microsecond // 1000:03d}"
    fields = [
        _text("EXTF"), "700", "21", _text("Buchungsstapel"), "13", created, "", _text("RE"),
        _text("faktura"), _text(""), str(header.consultant), str(header.client),
        f"{header.fiscal_year_start:%Y%m%d}", str(header.account_length),
        f"{header.first_day:%Y%m%d}", f"{header.last_day:%Y%m%d}", _text(header.title[:30]),
        _text(""), "1", "", "1" if header.locked else "0", _text("EUR"), "", _text(""), "", "",
        _text(header.skr), "", "", _text(""), _text(""),
    ]  # fmt: skip
    assert len(fields) == 31
    return ";".join(fields)


def booking_line(booking: Booking, locked: bool) -> str:
    if booking.amount_cents <= 0:
        raise ValueError(f"{booking.document}: DATEV takes positive amounts only")
    if not DOCUMENT_KEY.fullmatch(booking.document):
        raise ValueError(f"{booking.document!r} cannot be Belegfeld 1 (36 of A-Z a-z 0-9 $&%*+-/)")
    fields = [""] * len(COLUMNS)
    values = {
        "Umsatz (ohne Soll/Haben-Kz)": _amount(booking.amount_cents),
        "Soll/Haben-Kennzeichen": _text(booking.side),
        "WKZ Umsatz": _text("EUR"),
        "Konto": booking.account,
        "Gegenkonto (ohne BU-Schlüssel)": booking.contra_account,
        "BU-Schlüssel": _text(booking.tax_key) if booking.tax_key else "",
        "Belegdatum": f"{booking.day:%d%m}",
        "Belegfeld 1": _text(booking.document),
        "Buchungstext": _text(" ".join(booking.text.split())[:TEXT_LIMIT]),
        "EU-Land u. USt-IdNr.": _text(booking.eu_country_or_vat_id)
        if booking.eu_country_or_vat_id
        else "",
        "EU-Steuersatz": _rate(booking.eu_rate) if booking.eu_rate is not None else "",
        # empty would mean "locked" since DATEV's 2016/2017 version: always say it
        "Festschreibung": "1" if locked else "0",
        "Leistungsdatum": f"{booking.service_day:%d%m%Y}" if booking.service_day else "",
        "Fälligkeit": f"{booking.due_day:%d%m%Y}" if booking.due_day else "",
    }
    for name, value in values.items():
        fields[AT[name]] = value
    return ";".join(fields)


def extf_head(header: BatchHeader) -> bytes:
    """The batch header and the column headings."""
    return _encode(header_line(header)) + _encode(";".join(COLUMNS))


def extf_body(bookings: Iterable[Booking], header: BatchHeader) -> bytes:
    """Booking lines, to follow the head: a month of a large book is written in parts."""
    return b"".join(_encode(booking_line(booking, header.locked)) for booking in bookings)


def render_extf(header: BatchHeader, bookings: Iterable[Booking]) -> bytes:
    return extf_head(header) + extf_body(bookings, header)


def _encode(line: str) -> bytes:
    """Windows-1252; a character it lacks becomes its base letter (ő -> o), else "?"."""
    return (line.encode("cp1252", errors="strict") if line.isascii() else _cp1252(line)) + b"\r\n"


def _cp1252(line: str) -> bytes:
    out = bytearray()
    for char in line:
        try:
            out += char.encode("cp1252")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", errors="ignore")
            out += base or b"?"
    return bytes(out)


def _text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _amount(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _rate(rate: Decimal) -> str:
    return f"{rate.quantize(Decimal('0.01'))}".replace(".", ",")
