"""Payloads that cross the Temporal boundary (pydantic; one model per input/result).

Fields may be added with defaults; never rename or remove one that a running
workflow's history still holds.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field


class ContractStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class ProvisioningAction(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    RESUME = "resume"
    DEPROVISION = "deprovision"


class CancellationKind(StrEnum):
    ORDINARY = "ordinary"  # at the earliest end the terms allow
    EXTRAORDINARY = "extraordinary"  # at a given date (e.g. for cause, or agreed)
    WITHDRAWAL = "withdrawal"  # a consumer's Widerruf within 14 days: ends on its receipt


class TermsModel(BaseModel):
    start: date
    concluded_on: date
    minimum_term_end: date
    notice_period: str
    renewal_period: str
    consumer: bool


class GridChangeModel(BaseModel):
    valid_from: date
    months: list[int]


class RejectedRequest(BaseModel):
    request_id: str
    kind: str
    reason: str
    at: datetime


class CancellationConfirmation(BaseModel):
    """What §312k BGB asks a cancellation confirmation to state."""

    contract_id: str
    kind: CancellationKind
    received_at: datetime
    end_date: date = Field(description="last day of service (inclusive)")
    reason: str | None = None
    request_id: str | None = Field(default=None, description="the request it confirms")


class ContractState(BaseModel):
    """Everything the workflow knows; carried over by continue-as-new."""

    status: ContractStatus = ContractStatus.PENDING
    terms: TermsModel | None = None
    schedule: list[GridChangeModel] = Field(default_factory=list)
    version: int = 1
    next_billing_date: date | None = None
    billed_through: date | None = None  # exclusive: every due day before it is billed
    periods_billed: int = 0
    end: date | None = None  # exclusive
    cancellation: CancellationConfirmation | None = None
    confirmation_due: bool = False  # the cancellation's confirmation is still to be sent
    payment_method: str | None = None
    dunning_level: int = 0
    dunning_levels: dict[str, int] = Field(default_factory=dict)
    open_invoices: list[str] = Field(default_factory=list)
    provisioning_counts: dict[str, int] = Field(default_factory=dict)
    handled_requests: list[str] = Field(default_factory=list)
    rejected_requests: list[RejectedRequest] = Field(default_factory=list)
    runs: int = 1


class ContractWorkflowInput(BaseModel):
    contract_id: str
    customer_id: str
    state: ContractState | None = None
    # versions.SHAPE when this code started the run; 0 (absent) in runs recorded before
    shape: int = 0


class ContractSummary(BaseModel):
    contract_id: str
    status: ContractStatus
    end_date: date | None = None
    periods_billed: int = 0


class ContractStateView(ContractState):
    contract_id: str


class ContractFacts(BaseModel):
    """What the workflow needs from the contract's stored data to run its calendar."""

    terms: TermsModel
    months: list[int]
    version: int
    payment_method: str


class ProvisionInput(BaseModel):
    contract_id: str
    action: ProvisioningAction
    sequence: int = 1


class ProvisionResult(BaseModel):
    confirmed: bool
    reference: str


class SetContractStatusInput(BaseModel):
    contract_id: str
    status: ContractStatus


class BillPeriodInput(BaseModel):
    contract_id: str
    due: date
    end: date | None = None
    issued_on: date | None = None  # the business day of issue (default: the due day)
    start_invoice: bool = False  # the activity starts the invoice's workflow itself


class BillingEntryResult(BaseModel):
    entry_id: int | None
    total_cents: int
    lines: int
    invoice_number: str | None = None


class ItemRequest(BaseModel):
    product_code: str
    quantity: int = 1
    domain: str | None = None


class ChangePlanRequest(BaseModel):
    items: list[ItemRequest]
    requested_by: str = "api"


class PlanChangeInput(BaseModel):
    contract_id: str
    items: list[ItemRequest]
    day: date
    change_key: str
    requested_by: str
    start_invoice: bool = False


class PlanChangeResult(BaseModel):
    upgrade: bool
    effective_from: date
    version: int
    months: list[int]
    prorata_total_cents: int
    invoice_number: str | None = None


# requested_by of the termination the dunning ladder sends: ours, not the customer's.
TERMINATION_BY_DUNNING = "dunning"


class CancelRequest(BaseModel):
    kind: CancellationKind = CancellationKind.ORDINARY
    end_date: date | None = Field(default=None, description="extraordinary: last day of service")
    reason: str | None = None
    requested_by: str = "api"
    request_id: str | None = Field(default=None, description="dedupes repeated signals")
    received_at: AwareDatetime | None = Field(
        default=None,
        description="when the API received it (§312k): counts for a request handled late",
    )


class RecordCancellationInput(BaseModel):
    contract_id: str
    end: date
    change_key: str
    requested_by: str
    # what the confirmation states (runs before the patch cancellation-confirmation: none)
    kind: CancellationKind | None = None
    received_at: datetime | None = None
    reason: str | None = None


class SettleFinalInput(BaseModel):
    contract_id: str
    end: date
    issued_on: date | None = None
    start_invoice: bool = False
    refund_setup: bool = False  # a withdrawal: the set-up fee comes back too (§357a BGB)


class SuspensionRequest(BaseModel):
    reason: str
    request_id: str | None = None


class PaymentMethodChanged(BaseModel):
    payment_method: str
    request_id: str | None = None


class InvoiceWorkflowInput(BaseModel):
    number: str
    contract_id: str
    customer_id: str | None = None
    # Set when the contract's workflow has rendered, sent and registered the invoice itself
    # and starts this one only for collection (see workflows/hand_over.py).
    handed_over: InvoiceHandOver | None = None
    # versions.SHAPE when this code started the run; 0 (absent) in runs recorded before
    shape: int = 0


class InvoiceHandOver(BaseModel):
    """What the contract's workflow did before it started the invoice's: documents, e-mail,
    receivable and (SEPA) the first debit."""

    documents: dict[str, str]
    delivery: DeliveryResult
    receivable: ReceivableInfo
    debit: DebitRegistration | None = None

    @property
    def debit_registered(self) -> bool:
        return self.debit is not None and self.debit.registered

    @property
    def status(self) -> str:
        return (
            "debit_registered"
            if self.debit_registered
            else f"delivered_{self.delivery.channel.value}"
        )

    def ladder_due(self) -> date:
        """The day the dunning ladder counts from: the debit's collection day, else the due day."""
        if self.debit_registered and self.debit and self.debit.collection_date:
            return self.debit.collection_date
        return self.receivable.due_date


class HandOverInput(BaseModel):
    """Collect ``invoice-{number}`` with this input from ``wake_at`` on, or earlier when a
    return debit arrives (db/collection_starts.py)."""

    invoice: InvoiceWorkflowInput
    wake_at: datetime


class CollectionStartsInput(BaseModel):
    """Start the pending collections whose time comes by ``until``."""

    until: datetime


class CollectionStartsResult(BaseModel):
    started: int  # still open: the invoice's workflow runs the dunning ladder
    settled: int  # paid (or a credit note) by then: no workflow needed
    failed: int = 0  # could not start for a reason of its own: tried again an hour later


class RetentionInput(BaseModel):
    """Forget what expired by ``now`` (db/retention.py)."""

    now: datetime


class RetentionResult(BaseModel):
    idempotent_requests: int  # stored answers to Idempotency-Keys past their window
    collection_starts: int  # started or settled rows past the return window
    creation_keys: int = 0  # Idempotency-Key claims of creations past the window (0 before)


class IssuedInvoiceInput(BaseModel):
    """An invoice the contract's workflow has just issued, for its one-step hand-over."""

    number: str
    contract_id: str
    customer_id: str
    today: date


class RenderInvoiceInput(BaseModel):
    number: str


class InvoiceDocuments(BaseModel):
    number: str
    sha256: dict[str, str]
    customer_id: str | None = None


class InvoiceSummary(BaseModel):
    number: str
    documents: dict[str, str]
    delivery: DeliveryResult | None = None


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    POSTAL = "postal"


class SendDocumentInput(BaseModel):
    purpose: str  # invoice | dunning-1 | cancellation ...
    reference: str  # the document's number
    customer_id: str


class DeliveryResult(BaseModel):
    channel: DeliveryChannel
    message_id: str
    status: str
    smtp_reply: str | None = None


class PrintBatchInput(BaseModel):
    day: date


class PrintBatchResult(BaseModel):
    day: date
    items: int
    pdf_path: str | None


class NumberInput(BaseModel):
    number: str


class ReceivableInfo(BaseModel):
    number: str
    credit_note: bool
    business: bool
    due_date: date
    amount_cents: int
    contract_id: str
    sepa: bool


class ReceivableState(BaseModel):
    open_cents: int
    status: str  # open | paid | collection
    disputed: bool


class RepresentInput(BaseModel):
    number: str
    attempt: int = 1
    on: date | None = None  # wanted collection day (default: the invoice's due date)
    today: date | None = None
    amount_cents: int | None = None


class DebitRegistration(BaseModel):
    registered: bool
    reason: str | None = None
    collection_date: date | None = None
    end_to_end_id: str | None = None
    amount_cents: int | None = None


class SepaBatchInput(BaseModel):
    day: date


class SepaBatchResult(BaseModel):
    batch_id: str | None
    transactions: int
    path: str | None


class DunningStepInput(BaseModel):
    number: str
    step: str
    on: date


class DunningStepResult(BaseModel):
    fee_cents: int
    flat_fee_cents: int
    interest_cents: int
    return_fee_cents: int
    total_cents: int
    deadline: date
    open_cents: int


class PaymentEvent(BaseModel):
    """A booking on the invoice (from bank statements or manual assignment)."""

    key: str
    kind: str  # payment | return
    amount_cents: int
    open_cents: int
    reason: str | None = None
    fee_cents: int = 0


class DisputeRequest(BaseModel):
    disputed: bool
    reason: str = ""
    by: str = "support"


class DunningLevelChanged(BaseModel):
    invoice: str
    level: int  # 0 = none, 1 = reminder, 2 = first notice, 3 = final notice, 4+ = beyond


class AccountingExportInput(BaseModel):
    """Export every month that ended before ``today`` and has no batch yet, in order, with
    what existed at ``cutoff`` (activities/accounting.py)."""

    today: date  # German calendar day
    cutoff: datetime


class ExportedMonth(BaseModel):
    month: date  # its first day
    bookings: int
    late: int  # of them dated in a month exported before
    path: str | None


class AccountingExportResult(BaseModel):
    exported: list[ExportedMonth] = Field(default_factory=list)
