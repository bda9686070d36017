"""Invoices per second per core: EN 16931 XML (drafthorse) + PDF/A-3 (Typst) + embedding,
and the invoice e-mail built and flattened for SMTP.

    .venv/bin/python bench/render_invoices.py [N]

Prints the time of each step and the total per invoice, on one core (one process). Every
call renders another invoice number: Typst memoizes, and the same markup again compiles in
a third of the time a new invoice takes (measured 2.4 against 4.5-7.5 ms).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtplib.email import flatten_message  # noqa: E402

from documents.einvoice import render_xml  # noqa: E402
from documents.mail import build_message, invoice_mail, wire_bytes  # noqa: E402
from documents.pdf import _compiler, embed_facturx, render_markup, render_pdf  # noqa: E402
from documents.samples import sample_invoice  # noqa: E402


def per_call(step: Callable[[], object], n: int) -> float:
    step()  # warm-up: fonts, templates, schemas
    started = time.process_time()
    for _ in range(n):
        step()
    return (time.process_time() - started) / n * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    sample = sample_invoice()
    serial = itertools.count()

    def doc():  # another invoice each time
        return dataclasses.replace(sample, number=f"RE-2026-{next(serial):07d}")

    xml = render_xml(sample)
    content = invoice_mail(sample, render_pdf(sample, xml), None)
    now = datetime.now(UTC)

    def mail():  # another Message-ID each time
        msgid = f"<invoice.{next(serial)}@faktura.example>"
        return build_message(content, sender="faktura <billing@faktura.example>", msgid=msgid,
                             now=now)  # fmt: skip

    pdf = _compiler().compile(
        input=render_markup(sample).encode(), format="pdf", pdf_standards=["a-3b"]
    )
    steps = {
        "EN 16931 XML (drafthorse, XSD-checked)": lambda: render_xml(doc()),
        "Typst markup (jinja2)": lambda: render_markup(doc()),
        "PDF/A-3b (typst; markup included)": lambda: _compiler().compile(
            input=render_markup(doc()).encode(), format="pdf", pdf_standards=["a-3b"]
        ),
        "embed XML + Factur-X XMP (pypdf incremental)": lambda: embed_facturx(pdf, xml, doc()),
        "whole invoice (XML + PDF + embed)": lambda: (d := doc()) and render_pdf(d, render_xml(d)),
        "e-mail built + flattened as aiosmtplib did": lambda: flatten_message(mail()),
        "e-mail built + wire_bytes (what is sent)": lambda: wire_bytes(mail()),
    }
    print(f"one-page invoice with 5 lines, {n} runs, CPU time of one process")
    for name, step in steps.items():
        ms = per_call(step, n)
        print(f"  {name:<46} {ms:7.1f} ms   {1000 / ms:7.1f} /s")


if __name__ == "__main__":
    main()
