"""ContractWorkflow: one durable run per contract (``contract-{id}``) for its whole life.

activation (provisioning confirms) -> billing loop on timers to the exact next due day
(backdated contracts catch up at once) -> continue-as-new after each billing round ->
at the end: final settlement, deprovisioning, a summary. Plan changes and cancellations
arrive as updates (answered synchronously), fire-and-forget producers use signals.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain.berlin_time import berlin_date, berlin_midnight
    from domain.billing_calendar import GridChange, next_due
    from domain.durations import parse_duration
    from domain.terms import Terms, earliest_end
    from domain.withdrawal import last_day_to_withdraw
    from workflows import search_attributes as sa
    from workflows import timers, versions
    from workflows.hand_over import hand_over
    from workflows.invoice import SEND_DOCUMENT, InvoiceWorkflow
    from workflows.models import (
        BillingEntryResult,
        BillPeriodInput,
        CancellationConfirmation,
        CancellationKind,
        CancelRequest,
        ChangePlanRequest,
        ContractFacts,
        ContractState,
        ContractStateView,
        ContractStatus,
        ContractSummary,
        ContractWorkflowInput,
        DeliveryResult,
        DunningLevelChanged,
        GridChangeModel,
        InvoiceWorkflowInput,
        PaymentMethodChanged,
        PlanChangeInput,
        PlanChangeResult,
        ProvisioningAction,
        ProvisionInput,
        ProvisionResult,
        RecordCancellationInput,
        RejectedRequest,
        SendDocumentInput,
        SetContractStatusInput,
        SettleFinalInput,
        SuspensionRequest,
    )
    from workflows.options import DB_STEP, DELIVERY, EXTERNAL_CALL
    from workflows.steps import local_steps, run_step

# Activity names (implemented in activities/contracts.py; by name, so workflows stay IO-free).
LOAD_CONTRACT = "load_contract"
PROVISION_CONTRACT = "provision_contract"
SET_CONTRACT_STATUS = "set_contract_status"
BILL_PERIOD = "bill_period"
APPLY_PLAN_CHANGE = "apply_plan_change"
RECORD_CANCELLATION = "record_cancellation"
SETTLE_FINAL = "settle_final"

MAX_HANDLED_REQUEST_IDS = 200
# How far back the API's receipt stamp of a cancellation is believed (see _received_at).
RECEIPT_TRUSTED_FOR = timedelta(days=7)
# A new run after this many billing rounds. On a fleet of a million contracts the worker's
# cache never holds the contract whose timer fires: the wake-up replays every earlier round
# of the run, ~6.5 ms of worker CPU each (bench/replay_cost.py), while a new run costs ~30 ms
# (the server's ~26) once. Three rounds cost least of both: on average 16.5 ms per billing
# round against 38 ms with the twelve of runs before the patch ``short-runs``
# (docs/PERFORMANCE.md, eighth round).
PERIODS_PER_RUN = 3
PERIODS_PER_RUN_BEFORE = 12
# Patch: billing issues invoices and starts their InvoiceWorkflow (histories before it don't).
ISSUE_INVOICES = "issue-invoices"
# Patch: continue-as-new after a plan change issued an invoice.
NEW_RUN_AFTER_CHANGE = "new-run-after-change"
# Patch: the contract renders, sends and registers its invoices itself and hands each over
# for collection (workflows/hand_over.py).
HAND_OVER_INVOICES = "hand-over-invoices"
# Patch: a new run after PERIODS_PER_RUN billing rounds instead of PERIODS_PER_RUN_BEFORE.
SHORT_RUNS = "short-runs"
# Patch: a cancellation is confirmed to the customer in text form (e-mail or letter), and a
# cancellation signal that comes before the contract is loaded waits for it.
CONFIRM_CANCELLATION = "cancellation-confirmation"
# Patch: a contract not started yet sleeps on until its first day when a handler wakes it.
PENDING_UNTIL_START = "pending-until-start"


def _terms(data: ContractState) -> Terms:
    assert data.terms is not None
    t = data.terms
    return Terms(
        start=t.start,
        concluded_on=t.concluded_on,
        minimum_term_end=t.minimum_term_end,
        notice=parse_duration(t.notice_period),
        renewal=parse_duration(t.renewal_period),
        consumer=t.consumer,
    )


def _schedule(data: ContractState) -> list[GridChange]:
    return [GridChange(c.valid_from, tuple(c.months)) for c in data.schedule]


@workflow.defn
class ContractWorkflow:
    @workflow.init
    def __init__(self, input: ContractWorkflowInput) -> None:
        self.contract_id = input.contract_id
        self.shape = input.shape  # which changes are on without patch markers (versions.py)
        self.customer_id = input.customer_id
        self.data = input.state or ContractState()
        self.lock = asyncio.Lock()
        self.changed = False  # set by handlers: the loop re-plans its next wake-up
        # set when a handler issued an invoice: the next run starts without the finished
        # step in its history (and without the invoice's workflow as a pending child)
        self.fresh_run_wanted = False
        self.periods_before_run = self.data.periods_billed
        # invoices issued under the lock, sent and handed over after it (hand_over.py)
        self.to_hand_over: list[str] = []

    # ---------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, input: ContractWorkflowInput) -> ContractSummary:
        if self.data.terms is None:
            await self._load()
        if self.data.status is ContractStatus.PENDING:
            await self._sleep_until_start()
            if self._ends_by(self._today()):
                return await self._finish()
            await self._provision(ProvisioningAction.ACTIVATE)
            await self._set_status(ContractStatus.ACTIVE)

        while True:
            async with self.lock:
                billed = await self._bill_due_periods()
            await self._hand_over_issued()  # outside the lock: updates need not wait for SMTP
            await self._confirm_cancellation()  # so too the cancellation's confirmation
            today = self._today()
            if self._ends_by(today):
                return await self._finish()
            if (
                self._new_run_due(billed)
                or self.fresh_run_wanted
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carry_over())
            wake = self.data.next_billing_date
            if self.data.end is not None and (wake is None or self.data.end < wake):
                wake = self.data.end
            await self._sleep_until(wake)

    async def _sleep_until_start(self) -> None:
        """Until the contract's first day. A change or a cancellation before it wakes the
        sleep (a cancellation's confirmation goes out then); older runs then activated the
        contract at once, days early."""
        start = self.data.terms.start  # type: ignore[union-attr]
        await self._sleep_until(start)
        if versions.patched(PENDING_UNTIL_START):
            while True:
                await self._confirm_cancellation()  # now, not on the first day
                if self._today() >= start:
                    return
                await self._sleep_until(start)

    def _new_run_due(self, billed: bool) -> bool:
        """Old histories continued as new after every billing round (their invoice was a
        pending child); with local steps a run lasts PERIODS_PER_RUN rounds."""
        if not billed:
            return False
        if not local_steps():
            return True
        billed_in_run = self.data.periods_billed - self.periods_before_run
        rounds = PERIODS_PER_RUN if versions.patched(SHORT_RUNS) else PERIODS_PER_RUN_BEFORE
        return billed_in_run >= rounds

    def _today(self) -> date:
        return timers.today()

    def _ends_by(self, day: date) -> bool:
        return self.data.end is not None and self.data.end <= day

    async def _sleep_until(self, day: date | None) -> None:
        """Sleep to the start of ``day`` (German time) or until a handler changes the plan."""
        self.changed = False
        await timers.sleep_until(day, lambda: self.changed)

    async def _load(self) -> None:
        facts: ContractFacts = await run_step(
            LOAD_CONTRACT, self.contract_id, DB_STEP, ContractFacts
        )
        self.data.terms = facts.terms
        self.data.version = facts.version
        self.data.payment_method = facts.payment_method
        self.data.schedule = [GridChangeModel(valid_from=facts.terms.start, months=facts.months)]
        self.data.next_billing_date = facts.terms.start
        workflow.upsert_search_attributes([sa.CUSTOMER_ID.value_set(self.customer_id)])

    async def _bill_due_periods(self) -> bool:
        """Bill every due day up to today, in order (a backdated contract catches up)."""
        billed = False
        today = self._today()
        while (
            self.data.next_billing_date is not None
            and self.data.next_billing_date <= today
            and not self._ends_by(self.data.next_billing_date)
        ):
            due = self.data.next_billing_date
            issuing = versions.patched(ISSUE_INVOICES)
            local, hand_over = self._issuing_steps()
            billed_entry: BillingEntryResult = await run_step(
                BILL_PERIOD,
                BillPeriodInput(
                    contract_id=self.contract_id,
                    due=due,
                    end=self.data.end,
                    issued_on=today if issuing else None,
                    start_invoice=local and not hand_over,
                ),
                DB_STEP,
                BillingEntryResult,
            )
            if issuing:
                await self._start_invoice(billed_entry.invoice_number, local, hand_over)
            self.data.periods_billed += 1
            self._advance(due + timedelta(days=1))
            billed = True
        self._publish()
        return billed

    def _issuing_steps(self) -> tuple[bool, bool]:
        """(local steps, hand-over): how this run issues an invoice. Called before the
        issuing step, whose input says whether the activity starts the invoice's workflow."""
        local = local_steps()
        return local, local and versions.patched(HAND_OVER_INVOICES)

    async def _start_invoice(self, number: str | None, local: bool, hand_over: bool) -> None:
        """Documents, e-mail, receivable and debit of an issued invoice, and its own workflow
        for collection. New runs queue it for _hand_over_issued (hand_over.py); runs
        with local steps before that let the issuing activity start the invoice's workflow,
        which did them (no child workflow: two server round trips fewer); older histories
        start a child."""
        if number is None:
            return
        if hand_over:
            self.to_hand_over.append(number)
        elif not local:
            with contextlib.suppress(WorkflowAlreadyStartedError):  # started before a retry
                await workflow.start_child_workflow(
                    InvoiceWorkflow.run,
                    InvoiceWorkflowInput(
                        number=number, contract_id=self.contract_id, customer_id=self.customer_id
                    ),
                    id=f"invoice-{number}",
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary=f"Invoice {number} of contract {self.contract_id}",
                )
        self.data.open_invoices = [*self.data.open_invoices[-49:], number]

    async def _hand_over_issued(self) -> None:
        """Documents, e-mail, receivable and debit of each invoice issued, then its workflow."""
        while self.to_hand_over:
            number = self.to_hand_over.pop(0)
            await hand_over(number, self.contract_id, self.customer_id, self._today())

    async def _confirm_cancellation(self) -> None:
        """The confirmation §312k BGB asks for in text form, with receipt time and end: by
        e-mail, or by post for a customer who chose it (send_document, once per contract)."""
        if not self.data.confirmation_due:
            return
        await workflow.execute_activity(
            SEND_DOCUMENT,
            SendDocumentInput(
                purpose="cancellation", reference=self.contract_id, customer_id=self.customer_id
            ),
            result_type=DeliveryResult,
            **DELIVERY,
        )
        self.data.confirmation_due = False

    def _advance(self, not_before: date) -> None:
        anchor = self.data.terms.start  # type: ignore[union-attr]
        self.data.billed_through = not_before
        self.data.next_billing_date = next_due(anchor, _schedule(self.data), not_before)

    async def _finish(self) -> ContractSummary:
        """Settle what was paid beyond the end, deprovision, and complete."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._confirm_cancellation()
        end = self.data.end
        if self.data.status is not ContractStatus.PENDING and end is not None:
            issuing = versions.patched(ISSUE_INVOICES)
            local, hand_over = self._issuing_steps()
            settled: BillingEntryResult = await run_step(
                SETTLE_FINAL,
                SettleFinalInput(
                    contract_id=self.contract_id,
                    end=end,
                    issued_on=self._today() if issuing else None,
                    start_invoice=local and not hand_over,
                    refund_setup=self._withdrawn(),
                ),
                DB_STEP,
                BillingEntryResult,
            )
            if issuing:
                await self._start_invoice(settled.invoice_number, local, hand_over)
                await self._hand_over_issued()
            await self._provision(ProvisioningAction.DEPROVISION)
        self.data.next_billing_date = None
        await self._set_status(ContractStatus.ENDED)
        return ContractSummary(
            contract_id=self.contract_id,
            status=self.data.status,
            end_date=end - timedelta(days=1) if end else None,
            periods_billed=self.data.periods_billed,
        )

    def _withdrawn(self) -> bool:
        done = self.data.cancellation
        return done is not None and done.kind is CancellationKind.WITHDRAWAL

    def _carry_over(self) -> ContractWorkflowInput:
        self.data.runs += 1
        return ContractWorkflowInput(
            contract_id=self.contract_id, customer_id=self.customer_id, state=self.data,
            shape=versions.SHAPE,
        )  # fmt: skip

    # ---------------------------------------------------------------- effects

    async def _provision(self, action: ProvisioningAction) -> None:
        sequence = self.data.provisioning_counts.get(action.value, 0) + 1
        result: ProvisionResult = await workflow.execute_activity(
            PROVISION_CONTRACT,
            ProvisionInput(contract_id=self.contract_id, action=action, sequence=sequence),
            result_type=ProvisionResult,
            **EXTERNAL_CALL,
        )
        if not result.confirmed:
            raise ApplicationError(
                f"provisioning did not confirm {action.value}", non_retryable=True
            )
        self.data.provisioning_counts[action.value] = sequence

    async def _set_status(self, status: ContractStatus) -> None:
        await run_step(
            SET_CONTRACT_STATUS,
            SetContractStatusInput(contract_id=self.contract_id, status=status),
            DB_STEP,
        )
        self.data.status = status
        self._publish()

    def _publish(self) -> None:
        """Search attributes support filters on in the Temporal UI (no personal data)."""
        next_date = self.data.next_billing_date
        workflow.upsert_search_attributes(
            [
                sa.CONTRACT_STATUS.value_set(self.data.status.value),
                sa.DUNNING_LEVEL.value_set(self.data.dunning_level),
                sa.NEXT_BILLING_DATE.value_set(berlin_midnight(next_date))
                if next_date
                else sa.NEXT_BILLING_DATE.value_unset(),
            ]
        )
        workflow.set_current_details(
            f"**{self.data.status.value}** · next billing {next_date or '—'} · "
            f"periods billed {self.data.periods_billed}"
            + (f" · ends {self.data.end - timedelta(days=1)}" if self.data.end else "")
        )

    def _seen(self, request_id: str | None) -> bool:
        """True for a repeated signal; remembers the id (bounded) otherwise."""
        if request_id is None:
            return False
        if request_id in self.data.handled_requests:
            return True
        self.data.handled_requests = [
            *self.data.handled_requests[-(MAX_HANDLED_REQUEST_IDS - 1) :],
            request_id,
        ]
        return False

    def _reject(self, request_id: str | None, kind: str, reason: str) -> None:
        self.data.rejected_requests.append(
            RejectedRequest(
                request_id=request_id or "-", kind=kind, reason=reason, at=workflow.now()
            )
        )

    # ---------------------------------------------------------------- cancellation

    def _received_at(self, request: CancelRequest) -> datetime:
        """When the customer's declaration arrived, which sets the end (§312k BGB): the API's
        stamp, so that a request handled late (its worker was down) ends the contract as if
        handled at once. A stamp from the future or older than RECEIPT_TRUSTED_FOR (another
        clock, a bogus producer) counts as received now."""
        now = workflow.now()
        stamp = request.received_at
        if stamp is not None and now - RECEIPT_TRUSTED_FOR <= stamp <= now:
            return stamp
        return now

    def _confirmed(self, request: CancelRequest) -> CancellationConfirmation | None:
        """The confirmation of this very request, when it is already recorded: the update
        and the signal the API sends when the worker is late carry the same request id."""
        done = self.data.cancellation
        if done is not None and request.request_id and done.request_id == request.request_id:
            return done
        return None

    def _cancellation_problem(self, request: CancelRequest) -> str | None:
        if self._confirmed(request):
            return None
        if self.data.status is ContractStatus.ENDED:
            return "the contract has ended"
        if self.data.end is not None:
            return f"already cancelled to {self.data.end - timedelta(days=1)}"
        if self.data.terms is None:
            return "the contract is not loaded yet; try again in a moment"
        if request.kind is CancellationKind.WITHDRAWAL:
            return self._withdrawal_problem(request)
        if request.kind is CancellationKind.EXTRAORDINARY:
            if request.end_date is None:
                return "an extraordinary cancellation needs end_date"
            received_on = berlin_date(self._received_at(request))
            if request.end_date < received_on - timedelta(days=1):
                return "end_date lies in the past"
        elif request.end_date is not None:
            return "an ordinary cancellation ends when the terms allow; leave end_date out"
        return None

    def _withdrawal_problem(self, request: CancelRequest) -> str | None:
        terms = self.data.terms
        assert terms is not None
        if not terms.consumer:
            return "only a consumer can withdraw (§312g BGB); a business cancels"
        if request.end_date is not None:
            return "a withdrawal ends on the day it arrives; leave end_date out"
        last = last_day_to_withdraw(terms.concluded_on)
        if berlin_date(self._received_at(request)) > last:
            return f"the withdrawal period ended on {last.isoformat()}"
        return None

    @workflow.update
    async def cancel(self, request: CancelRequest) -> CancellationConfirmation:
        await workflow.wait_condition(self._loaded)  # accepted before the load (validator)
        return await self._cancel(request)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        """Refuses what is wrong now. Before the contract is loaded (its first moments, or a
        worker back from an outage) it accepts and the handler waits for the load; a
        refusal would leave the caller nothing but to retry."""
        if not self._loaded():
            return
        problem = self._cancellation_problem(request)
        if problem:
            raise ValueError(problem)

    def _loaded(self) -> bool:
        return self.data.terms is not None

    @workflow.signal
    async def cancellation_requested(self, request: CancelRequest) -> None:
        if self._seen(request.request_id):
            return
        if versions.patched(CONFIRM_CANCELLATION):
            # A signal may come before the contract is loaded (the API hands a cancellation
            # over as a signal while the worker is down): it waits, nobody can retry it.
            await workflow.wait_condition(self._loaded)
        try:
            await self._cancel(request)
        except ApplicationError as rejected:
            self._reject(request.request_id, "cancellation", rejected.message)

    async def _cancel(self, request: CancelRequest) -> CancellationConfirmation:
        async with self.lock:
            confirmed = self._confirmed(request)
            if confirmed:
                return confirmed
            problem = self._cancellation_problem(request)  # checked again: state may have moved
            if problem:
                raise ApplicationError(problem, type="InvalidRequest", non_retryable=True)
            received_at = self._received_at(request)
            if request.kind is CancellationKind.EXTRAORDINARY:
                assert request.end_date is not None
                end = request.end_date + timedelta(days=1)
            elif request.kind is CancellationKind.WITHDRAWAL:
                end = berlin_date(received_at) + timedelta(days=1)  # served up to its receipt
            else:
                end = earliest_end(_terms(self.data), berlin_date(received_at))
            end = max(end, self.data.terms.start)  # type: ignore[union-attr]
            await run_step(
                RECORD_CANCELLATION,
                RecordCancellationInput(
                    contract_id=self.contract_id,
                    end=end,
                    change_key=f"cancel:{request.request_id or workflow.uuid4()}",
                    requested_by=request.requested_by,
                    kind=request.kind,
                    received_at=received_at,
                    reason=request.reason,
                ),
                DB_STEP,
            )
            self.data.end = end
            self.data.confirmation_due = versions.patched(CONFIRM_CANCELLATION)
            self.data.cancellation = CancellationConfirmation(
                contract_id=self.contract_id,
                kind=request.kind,
                received_at=received_at,
                end_date=end - timedelta(days=1),
                reason=request.reason,
                request_id=request.request_id,
            )
            self.changed = True
            self._publish()
            return self.data.cancellation

    # ---------------------------------------------------------------- plan change

    @workflow.update
    async def change_plan(self, request: ChangePlanRequest) -> PlanChangeResult:
        async with self.lock:
            info = workflow.current_update_info()
            # The caller waits for this answer: the invoice's own workflow renders, sends and
            # collects (an SMTP outage must not hold up a plan change); no hand-over here.
            local, hand_over = local_steps(), False
            result: PlanChangeResult = await run_step(
                APPLY_PLAN_CHANGE,
                PlanChangeInput(
                    contract_id=self.contract_id,
                    items=request.items,
                    day=self._today(),
                    change_key=f"change:{info.id if info else workflow.uuid4()}",
                    requested_by=request.requested_by,
                    start_invoice=local and not hand_over,
                ),
                DB_STEP,
                PlanChangeResult,
            )
            if versions.patched(ISSUE_INVOICES):
                await self._start_invoice(result.invoice_number, local, hand_over)
                self.fresh_run_wanted = (
                    not local
                    and result.invoice_number is not None
                    and versions.patched(NEW_RUN_AFTER_CHANGE)
                )
            self.data.version = result.version
            self.data.schedule.append(
                GridChangeModel(valid_from=result.effective_from, months=result.months)
            )
            # Keep what is billed in order: the next due day follows the new grid.
            self._advance(self.data.billed_through or self.data.terms.start)  # type: ignore[union-attr]
            self.changed = True
            self._publish()
            return result

    @change_plan.validator
    def _validate_change(self, request: ChangePlanRequest) -> None:
        if self.data.status is not ContractStatus.ACTIVE:
            raise ValueError(f"a {self.data.status.value} contract cannot change its plan")
        if self.data.end is not None:
            raise ValueError("a cancelled contract cannot change its plan")
        if not request.items:
            raise ValueError("a plan needs at least one item")

    # ---------------------------------------------------------------- dunning, payment

    @workflow.signal
    async def suspend(self, request: SuspensionRequest) -> None:
        if self._seen(request.request_id):
            return
        async with self.lock:
            if self.data.status is not ContractStatus.ACTIVE:
                self._reject(request.request_id, "suspend", f"contract is {self.data.status}")
                return
            await self._provision(ProvisioningAction.SUSPEND)
            await self._set_status(ContractStatus.SUSPENDED)

    @workflow.signal
    async def resume(self, request: SuspensionRequest) -> None:
        if self._seen(request.request_id):
            return
        async with self.lock:
            if self.data.status is not ContractStatus.SUSPENDED:
                self._reject(request.request_id, "resume", f"contract is {self.data.status}")
                return
            await self._provision(ProvisioningAction.RESUME)
            await self._set_status(ContractStatus.ACTIVE)

    @workflow.signal
    def dunning_level_changed(self, change: DunningLevelChanged) -> None:
        """Each open invoice reports its dunning level; the contract shows the highest."""
        levels = dict(self.data.dunning_levels)
        if change.level:
            levels[change.invoice] = change.level
        else:
            levels.pop(change.invoice, None)
        self.data.dunning_levels = levels
        self.data.dunning_level = max(levels.values(), default=0)
        self._publish()

    @workflow.signal
    def payment_method_changed(self, change: PaymentMethodChanged) -> None:
        if not self._seen(change.request_id):
            self.data.payment_method = change.payment_method

    # ---------------------------------------------------------------- support

    @workflow.query
    def state(self) -> ContractStateView:
        return ContractStateView(contract_id=self.contract_id, **self.data.model_dump())
