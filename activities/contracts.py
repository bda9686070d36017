"""Contract activities: one transaction each, idempotent under retry (keys in the database)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.invoice_start import start_invoice_workflow
from activities.provisioning import Provisioner, technical_parameters
from activities.recent import Recent
from config import Settings
from db.contracts import (
    billable_items,
    customer_of,
    latest_version,
    lock_contract,
    lock_contract_for_billing,
    next_version_number,
    version_in_force,
)
from db.driver import driver_of, insert_row
from db.invoices import IssuedInvoice, issue_for_entry
from db.models import (
    BillingEntry,
    Cancellation,
    Contract,
    ContractVersion,
    Customer,
    PriceList,
)
from domain.billing import Line, LineKind, due_lines, plan_change, unused_credit
from workflows.models import (
    TERMINATION_BY_DUNNING,
    BillingEntryResult,
    BillPeriodInput,
    ContractFacts,
    PlanChangeInput,
    PlanChangeResult,
    ProvisionInput,
    ProvisionResult,
    RecordCancellationInput,
    SetContractStatusInput,
    SettleFinalInput,
    TermsModel,
)


def _line_json(line: Line) -> dict[str, Any]:
    data = dataclasses.asdict(line)
    data["kind"] = line.kind.value
    data["service_start"] = line.service_start.isoformat()
    data["service_end"] = line.service_end.isoformat()
    return data


def _line_from_json(data: dict[str, Any]) -> Line:
    return Line(
        **{
            **data,
            "kind": LineKind(data["kind"]),
            "service_start": date.fromisoformat(data["service_start"]),
            "service_end": date.fromisoformat(data["service_end"]),
        }
    )


Result = TypeVar("Result", BillingEntryResult, PlanChangeResult)


def invalid(message: str) -> ApplicationError:
    """A request the contract's data refuses: not retried, reported to the caller."""
    return ApplicationError(message, type="InvalidRequest", non_retryable=True)


class ContractActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        provisioner: Provisioner,
        settings: Settings,
        issued: Recent[IssuedInvoice] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.provisioner = provisioner
        self.settings = settings
        self.issued = issued if issued is not None else Recent[IssuedInvoice]()

    async def _after_commit(
        self,
        input: BillPeriodInput | PlanChangeInput | SettleFinalInput,
        outcome: tuple[Result, IssuedInvoice | None],
    ) -> Result:
        """Remember the committed invoice for the next steps; start its workflow if asked."""
        result, issued = outcome
        if issued is not None:
            self.issued.put(issued.invoice.number, issued)
        if input.start_invoice:
            await start_invoice_workflow(result.invoice_number, input.contract_id)
        return result

    @activity.defn
    async def load_contract(self, contract_id: str) -> ContractFacts:
        async with self.session_factory() as session:
            contract = await session.get(Contract, uuid.UUID(contract_id))
            if contract is None:
                raise invalid(f"contract {contract_id} not found")
            customer = await customer_of(session, contract)
            version = await latest_version(session, contract.id)
            items = await billable_items(session, version.items, customer.price_list_code)
        return ContractFacts(
            terms=TermsModel(
                start=contract.start_date,
                concluded_on=contract.concluded_on,
                minimum_term_end=version.minimum_term_end,
                notice_period=version.notice_period,
                renewal_period=version.renewal_period,
                consumer=customer.kind == "consumer",
            ),
            months=sorted({item.months for item in items}),
            version=version.version,
            payment_method=customer.payment_method,
        )

    @activity.defn
    async def provision_contract(self, input: ProvisionInput) -> ProvisionResult:
        contract_id = uuid.UUID(input.contract_id)
        async with self.session_factory() as session:
            parameters = await technical_parameters(session, contract_id)
        return await self.provisioner.request(contract_id, input.action, input.sequence, parameters)

    @activity.defn
    async def set_contract_status(self, input: SetContractStatusInput) -> None:
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(Contract)
                .where(Contract.id == uuid.UUID(input.contract_id))
                .values(status=input.status.value)
            )

    async def _record_entry(
        self,
        session: AsyncSession,
        contract: Contract,
        key: str,
        kind: str,
        day: date,
        lines: list[Line],
        issued_on: date,
        price_list: PriceList | None = None,
        customer: Customer | None = None,
    ) -> tuple[BillingEntryResult, IssuedInvoice | None]:
        """Insert the entry once per (contract, key) and issue its invoice in the same
        transaction; a retry returns the stored entry and invoice."""
        customer = customer or await customer_of(session, contract)
        price_list = price_list or await session.get(PriceList, customer.price_list_code)
        assert price_list is not None
        entry = BillingEntry(
            contract_id=contract.id,
            key=key,
            kind=kind,
            billing_date=day,
            lines=[_line_json(line) for line in lines],
            total_cents=sum(line.amount_cents for line in lines),
            price_list_code=price_list.code,
            prices_include_vat=price_list.prices_include_vat,
        )
        inserted = await insert_row(await driver_of(session), entry, skip_conflicts=True)
        stored = (
            entry
            if inserted
            else (
                await session.execute(
                    select(BillingEntry).where(
                        BillingEntry.contract_id == contract.id, BillingEntry.key == key
                    )
                )
            ).scalar_one()
        )
        issued = await issue_for_entry(
            session, entry=stored, contract=contract, customer=customer, issue_date=issued_on,
            settings=self.settings, fresh_entry=inserted,
        )  # fmt: skip
        result = BillingEntryResult(
            entry_id=stored.id,
            total_cents=stored.total_cents,
            lines=len(stored.lines),
            invoice_number=issued.invoice.number if issued else None,
        )
        return result, issued

    @activity.defn
    async def bill_period(self, input: BillPeriodInput) -> BillingEntryResult:
        return await self._after_commit(input, await self._bill_period(input))

    async def _bill_period(
        self, input: BillPeriodInput
    ) -> tuple[BillingEntryResult, IssuedInvoice | None]:
        """Charge the items whose period starts on the due day (billed in advance)."""
        contract_id = uuid.UUID(input.contract_id)
        async with self.session_factory() as session, session.begin():
            contract, customer, price_list = await lock_contract_for_billing(session, contract_id)
            version = await version_in_force(session, contract_id, input.due)
            if version is None:
                raise invalid(f"no contract version in force on {input.due}")
            items = await billable_items(session, version.items, customer.price_list_code)
            lines = due_lines(items, anchor=contract.start_date, due=input.due, end=input.end)
            return await self._record_entry(
                session, contract, f"period:{input.due.isoformat()}", "period", input.due, lines,
                input.issued_on or input.due, price_list, customer,
            )  # fmt: skip

    @activity.defn
    async def apply_plan_change(self, input: PlanChangeInput) -> PlanChangeResult:
        return await self._after_commit(input, await self._apply_plan_change(input))

    async def _apply_plan_change(
        self, input: PlanChangeInput
    ) -> tuple[PlanChangeResult, IssuedInvoice | None]:
        """A new contract version (now for an upgrade, at the period end for a downgrade)
        and, for an upgrade, the pro-rata charge and credit for the rest of the period."""
        contract_id = uuid.UUID(input.contract_id)
        async with self.session_factory() as session, session.begin():
            contract = await lock_contract(session, contract_id)
            existing = (
                await session.execute(
                    select(ContractVersion).where(
                        ContractVersion.contract_id == contract_id,
                        ContractVersion.change_key == input.change_key,
                    )
                )
            ).scalar_one_or_none()
            customer = await customer_of(session, contract)
            current = await latest_version(session, contract_id)
            if existing is not None:  # a retry: answer from what was recorded
                current = existing
            new_items = [item.model_dump(exclude_none=True) for item in input.items]
            old = await billable_items(
                session,
                (await version_in_force(session, contract_id, input.day) or current).items,
                customer.price_list_code,
            )
            new = await billable_items(session, new_items, customer.price_list_code)
            change = plan_change(old, new, anchor=contract.start_date, day=input.day)
            if existing is None:
                version = ContractVersion(
                    contract_id=contract_id,
                    version=await next_version_number(session, contract_id),
                    valid_from=change.effective_from,
                    items=new_items,
                    minimum_term_end=current.minimum_term_end,
                    notice_period=current.notice_period,
                    renewal_period=current.renewal_period,
                    end_date=current.end_date,
                    reason="upgrade" if change.upgrade else "downgrade",
                    change_key=input.change_key,
                    recorded_by=input.requested_by,
                )
                session.add(version)
                await session.flush()
            else:
                version = existing
            total, number, issued = 0, None, None
            if change.lines:
                entry, issued = await self._record_entry(
                    session, contract, input.change_key, "plan_change", input.day, change.lines,
                    input.day,
                )  # fmt: skip
                total, number = entry.total_cents, entry.invoice_number
            return PlanChangeResult(
                upgrade=change.upgrade,
                effective_from=change.effective_from,
                version=version.version,
                months=sorted({item.months for item in new}),
                prorata_total_cents=total,
                invoice_number=number,
            ), issued

    @activity.defn
    async def record_cancellation(self, input: RecordCancellationInput) -> int:
        """A new version carrying the end date; returns its number (once per change key)."""
        contract_id = uuid.UUID(input.contract_id)
        async with self.session_factory() as session, session.begin():
            await lock_contract(session, contract_id)
            current = await latest_version(session, contract_id)
            if current.change_key == input.change_key:
                return current.version
            version = ContractVersion(
                contract_id=contract_id,
                version=current.version + 1,
                valid_from=current.valid_from,
                items=current.items,
                minimum_term_end=current.minimum_term_end,
                notice_period=current.notice_period,
                renewal_period=current.renewal_period,
                end_date=input.end,
                reason="cancellation",
                change_key=input.change_key,
                recorded_by=input.requested_by,
            )
            session.add(version)
            if input.kind is not None and input.received_at is not None:
                session.add(
                    Cancellation(
                        contract_id=contract_id,
                        kind=input.kind.value,
                        received_at=input.received_at,
                        end_date=input.end - timedelta(days=1),
                        reason=input.reason,
                        requested_by=input.requested_by,
                        by_provider=input.requested_by == TERMINATION_BY_DUNNING,
                    )
                )
            return version.version

    @activity.defn
    async def settle_final(self, input: SettleFinalInput) -> BillingEntryResult:
        return await self._after_commit(input, await self._settle_final(input))

    async def _settle_final(
        self, input: SettleFinalInput
    ) -> tuple[BillingEntryResult, IssuedInvoice | None]:
        """Credit whatever was billed in advance for days after the end."""
        contract_id = uuid.UUID(input.contract_id)
        async with self.session_factory() as session, session.begin():
            contract = await lock_contract(session, contract_id)
            entries = (
                await session.execute(
                    select(BillingEntry)
                    .where(BillingEntry.contract_id == contract_id)
                    .order_by(BillingEntry.id)
                )
            ).scalars()
            billed = [
                _line_from_json(line)
                for entry in entries
                if entry.kind != "final"
                for line in entry.lines
            ]
            customer = await customer_of(session, contract)
            codes = [{"product_code": code} for code in sorted({b.product_code for b in billed})]
            months = {
                item.product_code: item.months
                for item in await billable_items(session, codes, customer.price_list_code)
            }
            lines = unused_credit(
                billed, months=months, anchor=contract.start_date, end=input.end,
                refund_setup=input.refund_setup,
            )  # fmt: skip
            if not lines:
                return BillingEntryResult(entry_id=None, total_cents=0, lines=0), None
            return await self._record_entry(
                session, contract, f"final:{input.end.isoformat()}", "final", input.end, lines,
                input.issued_on or input.end,
            )  # fmt: skip

    def all(self) -> list[Any]:
        return [
            self.load_contract,
            self.provision_contract,
            self.set_contract_status,
            self.bill_period,
            self.apply_plan_change,
            self.record_cancellation,
            self.settle_final,
        ]
