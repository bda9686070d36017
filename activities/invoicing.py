"""Invoice activities: render the documents of an issued invoice and archive them."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.archive import archive_files
from activities.recent import Recent, Rendered
from config import Settings
from db.driver import driver_connection
from db.invoices import IssuedInvoice, invoice_by_number, lines_of
from db.models import Invoice, InvoiceDocument, InvoiceLineRow
from documents.einvoice import render_xml
from documents.model import DocLine, DocTaxGroup, InvoiceDoc
from documents.pdf import render_pdf
from workflows.models import InvoiceDocuments, RenderInvoiceInput


def invoice_doc(invoice: Invoice, lines: list[InvoiceLineRow], seller: dict) -> InvoiceDoc:
    """The stored invoice as the renderers see it (snapshots only: re-rendering is identical)."""
    return InvoiceDoc(
        number=invoice.number,
        type_code=invoice.type_code,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        service_start=invoice.service_start,
        service_end=invoice.service_end,
        currency=invoice.currency,
        net_cents=invoice.net_cents,
        tax_cents=invoice.tax_cents,
        gross_cents=invoice.gross_cents,
        tax_category=invoice.tax_category,
        oss=invoice.oss,
        tax_note=invoice.tax_note,
        exemption_code=invoice.exemption_code,
        prices_include_vat=invoice.prices_include_vat,
        seller=seller,
        buyer=invoice.buyer,
        payment=invoice.payment,
        lines=tuple(
            DocLine(
                position=line.position,
                description=line.description,
                quantity=line.quantity,
                net_cents=line.net_cents,
                category=line.tax_category,
                rate=Decimal(line.tax_rate),
                service_start=line.service_start,
                service_end=line.service_end,
            )
            for line in lines
        ),
        tax_groups=tuple(
            DocTaxGroup(g["category"], Decimal(g["rate"]), g["basis_cents"], g["tax_cents"])
            for g in invoice.tax_groups
        ),
        preceding_number=invoice.preceding_number,
        preceding_issue_date=invoice.preceding_issue_date,
        reason=invoice.reason,
    )


class InvoiceActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        issued: Recent[IssuedInvoice] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.issued = issued if issued is not None else Recent[IssuedInvoice]()
        # The e-mail step runs right after rendering, in the same process: it takes the
        # documents from here instead of loading them again.
        self.rendered = Recent[Rendered]()

    def just_rendered(self, number: str) -> Rendered | None:
        """The documents of ``number`` if this process rendered them recently."""
        return self.rendered.get(number)

    async def issued_invoice(self, session: AsyncSession, number: str) -> IssuedInvoice:
        """The invoice and its lines: as this process issued them a moment ago, or loaded."""
        issued = self.issued.get(number)
        if issued is None:
            invoice = await invoice_by_number(session, number)
            assert invoice is not None, number
            issued = IssuedInvoice(invoice, await lines_of(session, invoice.id))  # type: ignore[arg-type]
        return issued

    def _doc(self, issued: IssuedInvoice) -> InvoiceDoc:
        return invoice_doc(issued.invoice, issued.lines, self.settings.seller.model_dump())

    async def load_doc(self, session: AsyncSession, number: str) -> tuple[Invoice, InvoiceDoc]:
        issued = await self.issued_invoice(session, number)
        return issued.invoice, self._doc(issued)

    @activity.defn
    async def render_invoice_documents(self, input: RenderInvoiceInput) -> InvoiceDocuments:
        """PDF/A-3 with embedded EN 16931 XML, the XML itself, and XRechnung for public buyers;
        archived with SHA-256. A retry finds the stored documents, or renders the same bytes.

        An invoice this process issued a moment ago has no documents yet, so the look-up is
        skipped; should a step elsewhere have stored them meanwhile, rendering is reproducible
        and the rows are inserted once."""
        if (rendered := self.just_rendered(input.number)) is not None:
            return self._documents(input.number, rendered)
        issued = self.issued.get(input.number)
        stored: list[InvoiceDocument] = []
        if issued is None:
            async with self.session_factory() as session:
                issued = await self.issued_invoice(session, input.number)
                stored = list((await session.execute(
                    select(InvoiceDocument)
                    .where(InvoiceDocument.invoice_id == issued.invoice.id)
                )).scalars())  # fmt: skip
        invoice, doc = issued.invoice, self._doc(issued)
        kinds = {"pdf", "xml"} | ({"xrechnung"} if doc.xrechnung else set())
        if stored and {d.kind for d in stored} >= kinds:
            return InvoiceDocuments(
                number=input.number,
                sha256={d.kind: d.sha256 for d in stored},
                customer_id=str(invoice.customer_id),
            )
        xml = render_xml(doc)
        contents = {"xml": xml, "pdf": render_pdf(doc, xml)}
        if doc.xrechnung:
            contents["xrechnung"] = render_xml(doc, xrechnung=True)
        folder = self.settings.archive_dir / "invoices" / f"{doc.issue_date:%Y/%m}"
        names = {"pdf": f"{doc.number}.pdf", "xml": f"{doc.number}.xml",
                 "xrechnung": f"{doc.number}-xrechnung.xml"}  # fmt: skip
        paths = {kind: folder / names[kind] for kind in contents}
        hashes = {kind: hashlib.sha256(content).hexdigest() for kind, content in contents.items()}
        await archive_files({paths[kind]: content for kind, content in contents.items()})
        async with driver_connection(self.session_factory) as db:  # one statement: atomic
            await db.execute(
                "INSERT INTO invoice_document (invoice_id, kind, path, sha256, size, created_at)"
                " SELECT $1, d.kind, d.path, d.sha256, d.size, now()"
                " FROM unnest($2::text[], $3::text[], $4::text[], $5::int[])"
                " AS d(kind, path, sha256, size)"
                " ON CONFLICT DO NOTHING",
                invoice.id, list(contents), [str(paths[kind]) for kind in contents],
                [hashes[kind] for kind in contents], [len(data) for data in contents.values()],
            )  # fmt: skip
        rendered = Rendered(invoice.id, invoice.customer_id, doc, paths, contents, hashes)  # type: ignore[arg-type]
        self.rendered.put(input.number, rendered)
        return self._documents(input.number, rendered)

    @staticmethod
    def _documents(number: str, rendered: Rendered) -> InvoiceDocuments:
        return InvoiceDocuments(
            number=number,
            sha256=rendered.sha256,
            customer_id=str(rendered.customer_id),
        )
