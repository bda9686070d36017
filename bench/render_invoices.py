"""Invoices per second per core: EN 16931 XML (drafthorse) + PDF/A-3 (Typst) + embedding.

    .venv/bin/python bench/render_invoices.py [N]

Prints the time of each step and the total per invoice, on one core (one process).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from documents.einvoice import render_xml  # noqa: E402
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
    doc = sample_invoice()
    xml = render_xml(doc)
    markup = render_markup(doc)
    pdf = _compiler().compile(input=markup.encode(), format="pdf", pdf_standards=["a-3b"])
    steps = {
        "EN 16931 XML (drafthorse, XSD-checked)": lambda: render_xml(doc),
        "Typst markup (jinja2)": lambda: render_markup(doc),
        "PDF/A-3b (typst)": lambda: _compiler().compile(
            input=markup.encode(), format="pdf", pdf_standards=["a-3b"]
        ),
        "embed XML + Factur-X XMP (pypdf incremental)": lambda: embed_facturx(pdf, xml, doc),
        "whole invoice (XML + PDF + embed)": lambda: render_pdf(doc, render_xml(doc)),
    }
    print(f"one-page invoice with 5 lines, {n} runs, CPU time of one process")
    for name, step in steps.items():
        ms = per_call(step, n)
        print(f"  {name:<46} {ms:7.1f} ms   {1000 / ms:7.1f} /s")


if __name__ == "__main__":
    main()
