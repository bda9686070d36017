"""InvoiceWorkflow: one visible run per issued invoice (``invoice-{number}``).

Started by the contract's workflow as a child with parent-close policy ABANDON, so it
outlives the parent's continue-as-new: render and archive the documents -> deliver them
(e-mail or post) -> collect: register the SEPA debit, wait for the money on timers,
handle return debits, walk the dunning ladder (reminder, notices, suspension, termination,
hand-over to collection). Bookings arrive as the signal ``payment_booked``; support can
pause the ladder with ``dispute``.
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.dunning import Step, default_policy
    from workflows import search_attributes as sa
    from workflows import timers, versions
    from workflows.models import (
        TERMINATION_BY_DUNNING,
        CancellationKind,
        CancelRequest,
        DebitRegistration,
        DeliveryResult,
        DisputeRequest,
        DunningLevelChanged,
        DunningStepInput,
        DunningStepResult,
        InvoiceDocuments,
        InvoiceHandOver,
        InvoiceSummary,
        InvoiceWorkflowInput,
        NumberInput,
        PaymentEvent,
        ReceivableInfo,
        ReceivableState,
        RenderInvoiceInput,
        RepresentInput,
        SendDocumentInput,
        SuspensionRequest,
    )
    from workflows.options import DB_STEP, DELIVERY, FILE_WORK
    from workflows.steps import run_step

RENDER_INVOICE_DOCUMENTS = "render_invoice_documents"
SEND_DOCUMENT = "send_document"
OPEN_RECEIVABLE = "open_receivable"
REGISTER_DEBIT = "register_debit"
SWITCH_TO_TRANSFER = "switch_to_transfer"
RECEIVABLE_STATE = "receivable_state"
PREPARE_DUNNING_LETTER = "prepare_dunning_letter"
HAND_OVER_TO_COLLECTION = "hand_over_to_collection"

DELIVER_DOCUMENTS = "deliver-documents"  # patch: runs recorded before delivery existed
COLLECT = "collect"  # patch: runs recorded before collection existed
DISPUTE_RECHECK = "dispute-recheck"  # patch: runs recorded before the daily look below
# A disputed invoice looks at its receivable this often: a dispute lifted while Temporal
# was down (its signal lost) must not hold the ladder for ever.
DISPUTE_LOOK_EVERY = timedelta(days=1)

# Return reasons: the account is fine but was short -> present once more; otherwise the
# mandate cannot be used -> transfer and ask for a new mandate.
REPRESENT = frozenset({"AM04", "MS03"})
RE_PRESENTATION_DAYS = 7


@workflow.defn
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, input: InvoiceWorkflowInput) -> None:
        self.number = input.number
        self.shape = input.shape  # which changes are on without patch markers (versions.py)
        self.status = "issued"
        self.open_cents = 0
        self.step: Step | None = None
        self.next_deadline: date | None = None
        self.disputed = False
        self.changed = False
        self.seen: list[str] = []
        self.returns: list[PaymentEvent] = []
        self.debit_attempts = 0
        self.suspended = False

    @workflow.run
    async def run(self, input: InvoiceWorkflowInput) -> InvoiceSummary:
        if input.handed_over is not None:
            return await self._collect_handed_over(input, input.handed_over)
        documents: InvoiceDocuments = await run_step(
            RENDER_INVOICE_DOCUMENTS,
            RenderInvoiceInput(number=input.number),
            FILE_WORK,
            InvoiceDocuments,
        )
        self._set_status("documents_ready")
        delivery = None
        customer_id = input.customer_id or documents.customer_id or ""
        if versions.patched(DELIVER_DOCUMENTS):
            delivery = await self._send("invoice", customer_id)
            self._set_status(f"delivered_{delivery.channel.value}")
        if versions.patched(COLLECT):
            await self._collect(input, customer_id)
        return InvoiceSummary(number=input.number, documents=documents.sha256, delivery=delivery)

    # ------------------------------------------------------------------ collection

    async def _collect(self, input: InvoiceWorkflowInput, customer_id: str) -> None:
        info: ReceivableInfo = await run_step(
            OPEN_RECEIVABLE, NumberInput(number=self.number), DB_STEP, ReceivableInfo
        )
        if info.credit_note:
            self._set_status("credited")
            return
        if not self.seen:  # no booking arrived before the receivable was opened
            self.open_cents = info.amount_cents
        due = info.due_date
        if info.sepa:
            due = await self._debit(attempt=1, on=info.due_date) or due
        await self._ladder(info, customer_id, due)

    async def _collect_handed_over(
        self, input: InvoiceWorkflowInput, handed_over: InvoiceHandOver
    ) -> InvoiceSummary:
        """The contract's workflow issued, sent and registered the invoice (hand_over.py);
        this run starts at the ladder's first deadline or when a booking wakes it."""
        info = handed_over.receivable
        summary = InvoiceSummary(
            number=input.number, documents=handed_over.documents, delivery=handed_over.delivery
        )
        self.status = handed_over.status  # set as a search attribute at the start already
        if info.credit_note:
            self._set_status("credited")
            return summary
        if not self.seen:
            self.open_cents = info.amount_cents
        if handed_over.debit_registered:
            self.debit_attempts = 1
        await self._ladder(info, input.customer_id or "", handed_over.ladder_due())
        return summary

    async def _ladder(self, info: ReceivableInfo, customer_id: str, due: date) -> None:
        """Wait for the money on timers and walk the dunning ladder until paid or handed
        over to collection."""
        policy = default_policy(info.business)
        while True:
            if self.open_cents <= 0:
                self._set_status("paid")
                if self.suspended:
                    await self._tell_contract(info.contract_id, "resume")
                if self.step is not None:
                    self.step = None
                    await self._tell_contract(info.contract_id, "dunning_level")
                return
            nxt = policy.step_after(self.step)
            if nxt is None:
                return
            self.next_deadline = due + timedelta(days=nxt.days_after_due)
            self._details()
            if not self.returns:  # a return booked before this run began is handled at once
                await self._sleep_until(self.next_deadline)
            if self.returns:
                due = await self._handle_returns(customer_id) or due
                continue
            if self.open_cents <= 0 or self._today() < self.next_deadline:
                continue
            if self.disputed:
                self._set_status("disputed")
                await self._wait_out_dispute()
                continue
            state: ReceivableState = await run_step(
                RECEIVABLE_STATE, NumberInput(number=self.number), DB_STEP, ReceivableState
            )
            self.open_cents = state.open_cents
            if state.open_cents <= 0 or state.disputed:
                self.disputed = state.disputed
                continue
            await self._take(nxt.step, info, customer_id, policy.suspension_threshold_cents)
            if nxt.step is Step.COLLECTION:
                self._set_status("collection")
                return

    async def _wait_out_dispute(self) -> None:
        """Until the dispute is lifted (signal ``dispute``) or the invoice paid; once a day
        the receivable is read, in case the signal that lifted it was lost."""

        def lifted() -> bool:
            return not self.disputed or self.open_cents <= 0

        if not versions.patched(DISPUTE_RECHECK):
            await workflow.wait_condition(lifted)
            return
        try:
            await workflow.wait_condition(lifted, timeout=DISPUTE_LOOK_EVERY)
        except TimeoutError:
            state: ReceivableState = await run_step(
                RECEIVABLE_STATE, NumberInput(number=self.number), DB_STEP, ReceivableState
            )
            self.open_cents = state.open_cents
            self.disputed = state.disputed

    async def _take(
        self, step: Step, info: ReceivableInfo, customer_id: str, threshold: int
    ) -> None:
        today = self._today()
        if step in (Step.REMINDER, Step.FIRST_NOTICE, Step.FINAL_NOTICE):
            await run_step(
                PREPARE_DUNNING_LETTER,
                DunningStepInput(number=self.number, step=step.value, on=today),
                DB_STEP,
                DunningStepResult,
            )
            await self._send(f"dunning:{step.value}", customer_id)
        elif step is Step.SUSPENSION:
            if self.open_cents >= threshold:
                await self._tell_contract(info.contract_id, "suspend")
                self.suspended = True
        elif step is Step.TERMINATION:
            await self._tell_contract(info.contract_id, "terminate")
        elif step is Step.COLLECTION:
            await run_step(
                HAND_OVER_TO_COLLECTION,
                DunningStepInput(number=self.number, step=step.value, on=today),
                DB_STEP,
            )
        self.step = step
        self._set_status(step.value)
        await self._tell_contract(info.contract_id, "dunning_level")

    async def _debit(self, *, attempt: int, on: date) -> date | None:
        registration: DebitRegistration = await run_step(
            REGISTER_DEBIT,
            RepresentInput(
                number=self.number,
                attempt=attempt,
                on=on,
                today=self._today(),
                amount_cents=self.open_cents,
            ),
            DB_STEP,
            DebitRegistration,
        )
        if registration.registered:
            self.debit_attempts = attempt
            self._set_status("debit_registered")
            return registration.collection_date
        return None

    async def _handle_returns(self, customer_id: str) -> date | None:
        """A return debit: present once more (AM04/MS03) after a new pre-notification, or
        switch the customer to transfer and ask for a new mandate. The ladder restarts
        from the new due day."""
        event = self.returns.pop(0)
        today = self._today()
        if event.reason in REPRESENT and self.debit_attempts == 1:
            collection = await self._debit(
                attempt=2, on=today + timedelta(days=RE_PRESENTATION_DAYS)
            )
            if collection:
                await self._send("notice:represent", customer_id)
                return collection
        await run_step(SWITCH_TO_TRANSFER, NumberInput(number=self.number), DB_STEP)
        await self._send("notice:new_mandate", customer_id)
        self._set_status("returned")
        return today

    async def _tell_contract(self, contract_id: str, what: str) -> None:
        """Signal the contract; a contract that has ended meanwhile needs no message."""
        try:
            await self._signal_contract(contract_id, what)
        except Exception as error:  # noqa: BLE001 - external signal failures must not fail us
            workflow.logger.warning("contract-%s did not take %s: %s", contract_id, what, error)

    async def _signal_contract(self, contract_id: str, what: str) -> None:
        contract = workflow.get_external_workflow_handle(f"contract-{contract_id}")
        request_id = f"{self.number}:{what}"
        if what == "dunning_level":
            level = list(Step).index(self.step) + 1 if self.step else 0
            await contract.signal(
                "dunning_level_changed", DunningLevelChanged(invoice=self.number, level=level)
            )
        elif what == "terminate":
            await contract.signal(
                "cancellation_requested",
                CancelRequest(
                    kind=CancellationKind.EXTRAORDINARY,
                    end_date=self._today(),
                    reason=f"payment default on {self.number}",
                    requested_by=TERMINATION_BY_DUNNING,
                    request_id=request_id,
                ),
            )
        else:
            await contract.signal(what, SuspensionRequest(reason=f"dunning {self.number}",
                                                          request_id=request_id))  # fmt: skip

    async def _send(self, purpose: str, customer_id: str) -> DeliveryResult:
        return await run_step(
            SEND_DOCUMENT,
            SendDocumentInput(purpose=purpose, reference=self.number, customer_id=customer_id),
            DELIVERY,
            DeliveryResult,
        )

    # ------------------------------------------------------------------ time

    def _today(self) -> date:
        return timers.today()

    async def _sleep_until(self, day: date) -> None:
        self.changed = False
        await timers.sleep_until(day, lambda: self.changed)

    # ------------------------------------------------------------------ visibility

    def _set_status(self, status: str) -> None:
        self.status = status
        workflow.upsert_search_attributes([sa.INVOICE_STATUS.value_set(status)])
        self._details()

    def _details(self) -> None:
        workflow.set_current_details(
            f"**{self.status}** · open {self.open_cents / 100:.2f} EUR · step "
            f"{self.step.value if self.step else '—'} · next deadline {self.next_deadline or '—'}"
        )

    # ------------------------------------------------------------------ messages

    @workflow.signal
    def payment_booked(self, event: PaymentEvent) -> None:
        if event.key in self.seen:
            return
        self.seen.append(event.key)
        self.open_cents = event.open_cents
        if event.kind == "return":
            self.returns.append(event)
        self.changed = True

    @workflow.signal
    def dispute(self, request: DisputeRequest) -> None:
        self.disputed = request.disputed
        self.changed = True

    @workflow.query
    def status_of(self) -> str:
        return self.status

    @workflow.query
    def collection(self) -> dict[str, object]:
        return {
            "status": self.status,
            "open_cents": self.open_cents,
            "step": self.step.value if self.step else None,
            "next_deadline": self.next_deadline.isoformat() if self.next_deadline else None,
            "disputed": self.disputed,
        }
