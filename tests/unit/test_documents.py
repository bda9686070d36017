"""Rendering: the sample invoice's PDF/A-3 and XML pass the official rules, re-rendering gives
the same bytes, and customer data cannot inject Typst markup."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from facturx import get_xml_from_pdf
from lxml import etree
from pypdf import PdfReader

from config import PROJECT_ROOT
from documents.einvoice import build_document, render_xml, serialize
from documents.facturx_embed import _generated_xmp, _xmp
from documents.pdf import render_markup, render_pdf, render_png
from documents.samples import sample_invoice

VALIDATOR = PROJECT_ROOT.parent / "shared" / "tools" / "validate_einvoice.py"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120
    )


def test_sample_invoice_is_a_valid_factur_x_pdf(tmp_path: Path) -> None:
    doc = sample_invoice()
    xml = render_xml(doc)
    pdf = render_pdf(doc, xml)
    (tmp_path / "sample.pdf").write_bytes(pdf)
    result = validate(tmp_path / "sample.pdf")
    assert result.returncode == 0, result.stdout
    name, embedded = get_xml_from_pdf(pdf, check_xsd=True)
    assert (name, embedded) == ("factur-x.xml", xml)
    reader = PdfReader(BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    [spec] = catalog["/AF"]
    assert spec.get_object()["/AFRelationship"] == "/Alternative"
    xmp = catalog["/Metadata"].get_object().get_data()
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert reader.metadata.title == doc.number  # the info dictionary matches the XMP
    assert render_pdf(doc, render_xml(doc)) == pdf  # reproducible


def test_the_pdf_states_what_the_law_asks(tmp_path: Path) -> None:
    doc = sample_invoice()
    text = PdfReader(BytesIO(render_pdf(doc, render_xml(doc)))).pages[0].extract_text()
    text = text.replace("\xa0", " ")  # babel puts a no-break space before €
    for expected in (
        "faktura Demo Hosting GmbH", "Musterstraße 1", "DE136695976", "30/123/45678",
        "Max Mustermann", "RE-2026-0000001", "01.11.2026", "Leistungszeitraum",
        "79,58 €", "19 %", "15,12 €", "94,70 €",
        "06.11.2026", "DEMO-MANDATE-001", "DE98ZZZ09999999999",  # SEPA pre-notification
    ):  # fmt: skip
        assert expected in text, expected


def test_customer_data_cannot_inject_markup() -> None:
    doc = sample_invoice()
    hostile = {**doc.buyer, "name": 'Evil #pagebreak() *bold* "q" \\ ] [ $x$ @ref <l>'}
    markup = render_markup(dataclasses.replace(doc, buyer=hostile))
    assert '#"Evil #pagebreak() *bold* \\"q\\" \\\\ ] [ $x$ @ref <l>"' in markup
    png = render_png(dataclasses.replace(doc, buyer=hostile))
    assert png.startswith(b"\x89PNG")


def test_an_xml_the_schema_refuses_never_leaves() -> None:
    """An invoice without its number lacks the document ID the Factur-X XSD requires."""
    with pytest.raises(etree.DocumentInvalid, match="TypeCode"):
        render_xml(dataclasses.replace(sample_invoice(), number=""))


@pytest.mark.parametrize("xrechnung", [False, True])
def test_the_xml_in_one_pass_is_what_drafthorse_serializes(xrechnung: bool) -> None:
    """``serialize`` skips drafthorse's parse-and-serialize-again; the bytes must not change."""
    for doc in (sample_invoice(), dataclasses.replace(sample_invoice(), notes=("Ü & <x>",))):
        drafthorse_bytes = build_document(doc, xrechnung=xrechnung).serialize(schema=None)
        assert serialize(build_document(doc, xrechnung=xrechnung)) == drafthorse_bytes
        assert render_xml(doc, xrechnung=xrechnung) == drafthorse_bytes


@pytest.mark.parametrize("buyer", ["Müller & Söhne <GmbH>", "Ωmega 😀 “Hosting” 'Ltd'", "plain"])
def test_the_xmp_filled_into_the_template_is_what_factur_x_builds(buyer: str) -> None:
    """The XMP is built once with placeholders; filling them in must give factur-x's bytes."""
    moment = datetime(2026, 11, 26, tzinfo=UTC)
    metadata = {"title": "RE-2026-0000001", "author": buyer, "subject": f"RE-2026-0000001 {buyer}"}
    built = _generated_xmp(
        metadata["title"], metadata["author"], metadata["subject"], "2026-11-26T00:00:00+00:00"
    )
    assert _xmp(metadata, moment) == built.encode()
