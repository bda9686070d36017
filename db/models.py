"""SQLModel tables: catalog with price history, customers, contracts with versions.

Money is stored as integer cents. Rows that record history (price versions, contract
versions) are only ever inserted, never updated.
"""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


class PriceList(SQLModel, table=True):
    """A list of prices; consumer lists in Germany are gross, business lists net."""

    __tablename__ = "price_list"

    code: str = Field(primary_key=True, max_length=40)
    name: str
    prices_include_vat: bool
    currency: str = Field(default="EUR", max_length=3)


class Product(SQLModel, table=True):
    __tablename__ = "product"

    code: str = Field(primary_key=True, max_length=60)
    name: str
    description: str = ""
    kind: str = Field(max_length=20)  # hosting | domain | ssl | addon
    billing_period: str = Field(max_length=4)  # P1M | P3M | P6M | P12M
    billed_in_advance: bool = True
    tax_category: str = Field(default="standard", max_length=20)
    minimum_term_months: int = 0
    notice_period: str = Field(default="P1M", max_length=8)  # ISO 8601: P1M, P14D, P4W
    renewal_period: str = Field(default="P1M", max_length=8)  # term extension after minimum
    unit: str = Field(default="piece", max_length=20)
    requires_domain: bool = False
    grandfathered: bool = False
    orderable_from: date
    orderable_until: date | None = None


class PriceVersion(SQLModel, table=True):
    """A price valid from a date on; never edited, a change is a new row."""

    __tablename__ = "price_version"
    __table_args__ = (UniqueConstraint("product_code", "price_list_code", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    product_code: str = Field(foreign_key="product.code", max_length=60)
    price_list_code: str = Field(foreign_key="price_list.code", max_length=40)
    valid_from: date
    amount_cents: int  # per unit and billing period, net or gross as the price list says
    setup_fee_cents: int = 0
    created_at: datetime = _timestamp()


class Tld(SQLModel, table=True):
    """An orderable top-level domain and the product that bills it."""

    __tablename__ = "tld"

    name: str = Field(primary_key=True, max_length=63)
    product_code: str = Field(foreign_key="product.code", max_length=60)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    crm_reference: str = Field(unique=True, max_length=64)
    kind: str = Field(max_length=10)  # consumer | business
    name: str
    company: str | None = None
    street: str
    house_number: str = Field(max_length=20)
    postcode: str = Field(max_length=16)
    city: str
    country: str = Field(max_length=2)
    email: str
    language: str = Field(default="de", max_length=2)
    vat_id: str | None = Field(default=None, max_length=20)
    payment_method: str = Field(max_length=20)  # sepa_direct_debit | bank_transfer
    iban: str | None = Field(default=None, max_length=34, index=True)  # bank line matching
    bic: str | None = Field(default=None, max_length=11)
    mandate_reference: str | None = Field(default=None, max_length=35)
    mandate_signed_on: date | None = None
    invoice_channel: str = Field(default="email", max_length=10)  # email | postal
    buyer_reference: str | None = Field(default=None, max_length=60)  # Leitweg-ID
    price_list_code: str = Field(foreign_key="price_list.code", max_length=40)
    request_fingerprint: str = Field(max_length=64)
    created_at: datetime = _timestamp()


class Contract(SQLModel, table=True):
    __tablename__ = "contract"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    crm_reference: str = Field(unique=True, max_length=64)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    start_date: date
    concluded_on: date  # the day the contract was signed (drives the consumer notice rule)
    status: str = Field(default="pending", max_length=20)
    request_fingerprint: str = Field(max_length=64)
    created_at: datetime = _timestamp()


class ContractVersion(SQLModel, table=True):
    """All parameters of a contract from ``valid_from`` on; a change adds a version."""

    __tablename__ = "contract_version"
    __table_args__ = (
        UniqueConstraint("contract_id", "version"),
        UniqueConstraint("contract_id", "change_key", name="uq_contract_version_change_key"),
        Index("ix_contract_version_valid", "contract_id", "valid_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: uuid.UUID = Field(foreign_key="contract.id")
    version: int
    valid_from: date
    items: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    minimum_term_end: date
    notice_period: str = Field(max_length=8)
    renewal_period: str = Field(max_length=8)
    end_date: date | None = None  # set by a confirmed cancellation
    reason: str = Field(max_length=40)  # created | plan_change | cancellation | ...
    change_key: str | None = Field(default=None, max_length=100)  # idempotency of a change
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = _timestamp()


class Cancellation(SQLModel, table=True):
    """A contract's cancellation as §312k BGB asks to confirm it: the declaration, its
    receipt time and the end it leads to. Kept for support and as proof; the confirmation
    letter is built from it (activities/delivery.py)."""

    __tablename__ = "cancellation"

    contract_id: uuid.UUID = Field(primary_key=True, foreign_key="contract.id")
    kind: str = Field(max_length=20)  # ordinary | extraordinary | withdrawal
    received_at: datetime = Field(sa_type=DateTime(timezone=True))
    end_date: date  # the last day of service (inclusive)
    reason: str | None = Field(default=None, max_length=500)
    requested_by: str = Field(max_length=64)
    by_provider: bool = False  # our termination (dunning), not the customer's declaration
    recorded_at: datetime = _timestamp()


class IdempotencyRecord(SQLModel, table=True):
    """One request key per scope: a repeated request returns the first one's resource."""

    __tablename__ = "idempotency_record"
    # retention: the Idempotency-Key claims expire, the CRM references stay
    __table_args__ = (
        Index(
            "ix_idempotency_record_key_claims", "created_at", postgresql_where="key LIKE 'key:%'"
        ),
    )

    scope: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    resource_id: uuid.UUID
    created_at: datetime = _timestamp()


class IdempotentRequest(SQLModel, table=True):
    """A state-changing request made with an Idempotency-Key, and the answer it got.

    ``pending`` while the first request runs; ``done`` with its status and body after.
    Scope: the caller's key digest, the method and the path, so keys never collide across
    callers or routes."""

    __tablename__ = "idempotent_request"
    __table_args__ = (Index("ix_idempotent_request_created_at", "created_at"),)  # retention

    scope: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=10)
    status_code: int | None = None
    content_type: str | None = Field(default=None, max_length=100)
    body: bytes | None = None
    created_at: datetime = _timestamp()


class WorkflowStart(SQLModel, table=True):
    """Transactional outbox: written with the contract, cleared once Temporal has the run."""

    __tablename__ = "workflow_start"
    # the relay's question every 2 s: one row per contract stays (bench/scale_queries.py)
    __table_args__ = (
        Index("ix_workflow_start_pending", "created_at", postgresql_where="started_at IS NULL"),
    )

    workflow_id: str = Field(primary_key=True, max_length=100)
    contract_id: uuid.UUID = Field(foreign_key="contract.id", unique=True)
    created_at: datetime = _timestamp()
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    attempts: int = 0
    last_error: str | None = None


class ProvisioningRequest(SQLModel, table=True):
    """What the provisioning system is asked to do (the default, recording adapter)."""

    __tablename__ = "provisioning_request"
    __table_args__ = (UniqueConstraint("contract_id", "action", "sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: uuid.UUID = Field(foreign_key="contract.id", index=True)
    action: str = Field(max_length=20)  # activate | suspend | resume | deprovision
    sequence: int = 1  # the n-th request of this action for this contract
    parameters: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    requested_at: datetime = _timestamp()
    confirmed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class BillingEntry(SQLModel, table=True):
    """What a contract was charged for one due day or one change; unique per key, so a retried
    billing step finds the entry it wrote before. Invoicing turns entries into invoices."""

    __tablename__ = "billing_entry"
    __table_args__ = (UniqueConstraint("contract_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: uuid.UUID = Field(foreign_key="contract.id", index=True)
    key: str = Field(max_length=120)  # period:<due> | change:<key> | final:<end>
    kind: str = Field(max_length=20)  # period | plan_change | final
    billing_date: date
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    total_cents: int
    price_list_code: str = Field(max_length=40)
    prices_include_vat: bool
    created_at: datetime = _timestamp()


class InvoiceCounter(SQLModel, table=True):
    """One row per number series and year; locked while a number is taken (gapless)."""

    __tablename__ = "invoice_counter"

    series: str = Field(primary_key=True, max_length=20)  # RE-2026, GS-2026
    last_value: int = 0


class Invoice(SQLModel, table=True):
    """An issued invoice (380) or credit note (381). Never changed once written."""

    __tablename__ = "invoice"
    # credit notes by the invoice they correct (few: a small index)
    __table_args__ = (
        Index(
            "ix_invoice_preceding_number",
            "preceding_number",
            postgresql_where="preceding_number IS NOT NULL",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=20)
    type_code: str = Field(max_length=3)  # 380 invoice | 381 credit note
    contract_id: uuid.UUID = Field(foreign_key="contract.id", index=True)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    billing_entry_id: int | None = Field(default=None, foreign_key="billing_entry.id", unique=True)
    credit_key: str | None = Field(default=None, unique=True, max_length=250)
    preceding_number: str | None = Field(default=None, max_length=20)
    preceding_issue_date: date | None = None
    issue_date: date = Field(index=True)
    due_date: date
    service_start: date
    service_end: date  # exclusive
    currency: str = Field(default="EUR", max_length=3)
    net_cents: int
    tax_cents: int
    gross_cents: int
    tax_category: str = Field(max_length=3)
    oss: bool = False
    tax_note: str | None = None
    exemption_code: str | None = Field(default=None, max_length=20)
    tax_groups: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    prices_include_vat: bool
    buyer: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    payment: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    reason: str | None = None
    created_at: datetime = _timestamp()


class InvoiceLineRow(SQLModel, table=True):
    __tablename__ = "invoice_line"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    product_code: str = Field(max_length=60)
    description: str
    quantity: int
    net_cents: int
    tax_category: str = Field(max_length=3)
    tax_rate: str = Field(max_length=8)  # decimal percent, e.g. "19" or "25.5"
    service_start: date
    service_end: date  # exclusive


class InvoiceDocument(SQLModel, table=True):
    """A rendered document of an invoice in the archive, with its SHA-256."""

    __tablename__ = "invoice_document"
    __table_args__ = (UniqueConstraint("invoice_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    kind: str = Field(max_length=20)  # pdf | xml | xrechnung
    path: str
    sha256: str = Field(max_length=64)
    size: int
    created_at: datetime = _timestamp()


class OutboxMessage(SQLModel, table=True):
    """One delivery of one document for one purpose; the database makes it happen once.

    status: pending -> sending -> sent (SMTP accepted), or -> postal (queued for print).
    """

    __tablename__ = "outbox_message"
    __table_args__ = (UniqueConstraint("purpose", "reference"),)

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=40)  # invoice | dunning-1 | cancellation ...
    reference: str = Field(max_length=60)  # e.g. the invoice number
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    message_id: str = Field(unique=True, max_length=200)
    recipient: str
    subject: str
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    smtp_reply: str | None = None
    last_error: str | None = None
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = _timestamp()


class PostalItem(SQLModel, table=True):
    """A document to print and post; collected into one daily print batch."""

    __tablename__ = "postal_item"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox_message.id", unique=True)
    document_path: str
    address: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    reason: str = Field(max_length=40)  # customer_chose_postal | email_rejected | email_failed
    queued_at: datetime = _timestamp()
    batch_date: date | None = Field(default=None, index=True)


class PrintBatch(SQLModel, table=True):
    __tablename__ = "print_batch"

    batch_date: date = Field(primary_key=True)
    pdf_path: str
    manifest_path: str
    items: int
    sha256: str = Field(max_length=64)
    created_at: datetime = _timestamp()


class CancellationRequest(SQLModel, table=True):
    """A cancellation received while Temporal was unavailable, with its receipt time: the
    API's relay signals it to the contract's workflow and deletes the row."""

    __tablename__ = "cancellation_request"

    request_id: str = Field(primary_key=True, max_length=220)
    contract_id: uuid.UUID = Field(foreign_key="contract.id")
    request: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))  # CancelRequest
    created_at: datetime = _timestamp()
    attempts: int = 0  # failed deliveries; the relay skips such a row and goes on
    last_error: str | None = None


class CustomerChange(SQLModel, table=True):
    """A change of a customer's data through the API: what it set (IBANs masked), and who."""

    __tablename__ = "customer_change"
    __table_args__ = (Index("ix_customer_change_customer", "customer_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customer.id")
    changes: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = _timestamp()


class CustomerFlag(SQLModel, table=True):
    """Something support should look at, e.g. ``email_bounced``."""

    __tablename__ = "customer_flag"
    __table_args__ = (UniqueConstraint("customer_id", "flag"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    flag: str = Field(max_length=40)
    detail: str
    created_at: datetime = _timestamp()


class Receivable(SQLModel, table=True):
    """The open amount of an invoice; the payment state lives here, not on the invoice."""

    __tablename__ = "receivable"

    invoice_number: str = Field(primary_key=True, max_length=20)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    contract_id: uuid.UUID = Field(foreign_key="contract.id", index=True)
    amount_cents: int
    paid_cents: int = 0
    due_date: date
    status: str = Field(default="open", max_length=20, index=True)  # open | paid | collection
    default_since: date | None = None
    dunning_step: str | None = Field(default=None, max_length=20)
    disputed: bool = False
    updated_at: datetime = _timestamp()

    @property
    def open_cents(self) -> int:
        return self.amount_cents - self.paid_cents


class Payment(SQLModel, table=True):
    """A booking on a receivable (append-only): received (+), returned (-), fees."""

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    booking_key: str = Field(unique=True, max_length=120)  # line:<id> | credit:<number> ...
    invoice_number: str = Field(foreign_key="receivable.invoice_number", index=True)
    kind: str = Field(max_length=20)  # debit | transfer | return | manual | credit_note
    amount_cents: int
    booked_on: date
    bank_line_id: int | None = Field(default=None, foreign_key="bank_line.id")
    reason: str | None = None
    fee_cents: int = 0
    created_at: datetime = _timestamp()


class BookingNotice(SQLModel, table=True):
    """A bank booking its invoice's workflow has not heard of yet: written with the booking,
    deleted once the workflow was told (db/booking_notices.py)."""

    __tablename__ = "booking_notice"

    booking_key: str = Field(primary_key=True, foreign_key="payment.booking_key", max_length=120)
    created_at: datetime = _timestamp()
    attempts: int = 0  # failed deliveries; the relay skips such a row and goes on
    last_error: str | None = None


class CreditNoteStart(SQLModel, table=True):
    """A credit note issued through the API whose workflow has not started yet: written
    with the note, deleted once it runs (db/credit_note_starts.py)."""

    __tablename__ = "credit_note_start"

    number: str = Field(primary_key=True, foreign_key="invoice.number", max_length=20)
    summary: str
    created_at: datetime = _timestamp()
    attempts: int = 0  # failed starts; the relay skips such a row and goes on
    last_error: str | None = None


class SepaMandate(SQLModel, table=True):
    __tablename__ = "sepa_mandate"

    reference: str = Field(primary_key=True, max_length=35)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    iban: str = Field(max_length=34, index=True)  # bank line matching
    bic: str | None = Field(default=None, max_length=11)
    signed_on: date
    last_used_on: date | None = None
    status: str = Field(default="active", max_length=20)  # active | lapsed | revoked


class SepaDebit(SQLModel, table=True):
    """One collection of one invoice; a re-presentation is a second attempt."""

    __tablename__ = "sepa_debit"
    __table_args__ = (UniqueConstraint("invoice_number", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_number: str = Field(max_length=20, index=True)
    attempt: int = 1
    end_to_end_id: str = Field(unique=True, max_length=35)
    mandate_reference: str = Field(max_length=35)
    mandate_signed_on: date
    iban: str = Field(max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    debtor_name: str
    debtor_country: str = Field(max_length=2)
    debtor_town: str
    amount_cents: int
    collection_date: date = Field(index=True)
    sequence_type: str = Field(default="RCUR", max_length=4)
    batch_id: str | None = Field(default=None, max_length=40, index=True)
    created_at: datetime = _timestamp()


class SepaBatch(SQLModel, table=True):
    __tablename__ = "sepa_batch"

    id: str = Field(primary_key=True, max_length=40)  # SDD-2026-11-26
    message_id: str = Field(unique=True, max_length=35)
    built_on: date = Field(unique=True)
    path: str
    sha256: str = Field(max_length=64)
    transactions: int
    control_sum_cents: int
    created_at: datetime = _timestamp()


class BankStatement(SQLModel, table=True):
    __tablename__ = "bank_statement"

    id: str = Field(primary_key=True, max_length=80)  # camt statement / notification id
    kind: str = Field(max_length=10)  # camt.053 | camt.054
    account_iban: str = Field(max_length=34)
    opening_cents: int | None = None
    closing_cents: int | None = None
    sha256: str = Field(max_length=64)
    imported_by: str = Field(max_length=64)
    imported_at: datetime = _timestamp()


class BankLine(SQLModel, table=True):
    """One booked transaction of a statement; unique per statement and entry reference."""

    __tablename__ = "bank_line"
    __table_args__ = (UniqueConstraint("statement_id", "entry_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    statement_id: str = Field(foreign_key="bank_statement.id")
    entry_ref: str = Field(max_length=80)
    amount_cents: int  # signed: credits positive, debits (returns) negative
    booking_date: date
    end_to_end_id: str | None = Field(default=None, max_length=35)
    remittance: str | None = None
    counterparty_iban: str | None = Field(default=None, max_length=34)
    counterparty_name: str | None = None
    return_reason: str | None = Field(default=None, max_length=4)
    fee_cents: int = 0
    status: str = Field(default="unmatched", max_length=20, index=True)
    invoice_number: str | None = Field(default=None, max_length=20)
    matched_by: str | None = Field(default=None, max_length=40)
    assigned_by: str | None = Field(default=None, max_length=64)
    assigned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    assignment_reason: str | None = None


class CustomerCredit(SQLModel, table=True):
    """Money a customer paid beyond an invoice (over-payment), kept for later invoices."""

    __tablename__ = "customer_credit"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    amount_cents: int
    source: str
    created_at: datetime = _timestamp()


class CollectionCase(SQLModel, table=True):
    """A claim handed over to the collection agency, with the §4.3 data set."""

    __tablename__ = "collection_case"

    invoice_number: str = Field(primary_key=True, max_length=20)
    customer_id: uuid.UUID = Field(foreign_key="customer.id", index=True)
    data: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    handed_over_on: date
    created_at: datetime = _timestamp()


class CollectionStart(SQLModel, table=True):
    """An issued invoice whose collection workflow has not started: most invoices are paid
    before their first dunning deadline and never need one (activities/collection_starts.py).

    ``pending`` until ``wake_at``, then ``started`` if the invoice is still open, else
    ``settled``; a return debit starts it at once. ``input`` is the workflow's input; it is
    kept on a settled row (a late return debit starts from it) and cleared once started.
    A row that is no longer pending is deleted after 400 days (db/retention.py)."""

    __tablename__ = "collection_start"
    __table_args__ = (
        Index("ix_collection_start_pending", "wake_at", postgresql_where="state = 'pending'"),
        Index("ix_collection_start_done", "updated_at", postgresql_where="state <> 'pending'"),
        Index(
            "ix_collection_start_failing",
            "wake_at",
            postgresql_where="state = 'pending' AND attempts > 0",
        ),
    )

    invoice_number: str = Field(primary_key=True, max_length=20)
    wake_at: datetime = Field(sa_type=DateTime(timezone=True))
    state: str = Field(default="pending", max_length=10)  # pending | started | settled
    input: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    updated_at: datetime = _timestamp()
    attempts: int = 0  # failed starts; each moves wake_at an hour on (a reason of its own)
    last_error: str | None = None


class AccountingExport(SQLModel, table=True):
    """A month's DATEV booking batch (activities/accounting.py): written once, never again;
    what arrives for an exported month goes into the next batch."""

    __tablename__ = "accounting_export"

    month: date = Field(primary_key=True)  # its first day
    bookings: int
    documents: int  # invoices and credit notes
    movements: int  # matched bank lines
    late: int  # of them dated in a month exported before: booked on this month's first day
    path: str | None = None  # no file for a month without bookings
    sha256: str | None = Field(default=None, max_length=64)
    locked: bool  # written with Festschreibung
    cutoff: datetime = Field(sa_type=DateTime(timezone=True))  # what existed then is in it
    created_at: datetime = _timestamp()


class AccountingEntry(SQLModel, table=True):
    """An invoice, credit note (invoice:<number>) or bank line (line:<id>) in a batch."""

    __tablename__ = "accounting_entry"

    source: str = Field(primary_key=True, max_length=120)
    month: date = Field(foreign_key="accounting_export.month")
