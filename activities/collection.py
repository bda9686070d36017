"""Collection activities: receivables, SEPA debits and batches, dunning letters, hand-over."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.archive import write_once
from activities.recent import Recent
from config import Settings
from db.driver import driver_connection, driver_transaction
from db.invoices import IssuedInvoice, invoice_by_number
from db.models import (
    CollectionCase,
    Contract,
    ContractVersion,
    Customer,
    Invoice,
    OutboxMessage,
    Payment,
    Receivable,
    SepaBatch,
    SepaDebit,
    SepaMandate,
    utcnow,
)
from db.receivables import book, lock_receivable, return_fees
from documents.letters import DunningLetter, render_dunning_letter
from documents.pain008 import Creditor, Debit, build_pain008
from domain.calendar import add_months
from domain.dunning import Step, charges_at, default_policy
from domain.target2 import next_business_day, on_or_after
from workflows.models import (
    DebitRegistration,
    DunningStepInput,
    DunningStepResult,
    NumberInput,
    ReceivableInfo,
    ReceivableState,
    RepresentInput,
    SepaBatchInput,
    SepaBatchResult,
)

MANDATE_LAPSES_AFTER_MONTHS = 36


def letter_path(archive: Path, number: str, step: str) -> Path:
    return archive / "dunning" / f"{number}-{step}.pdf"


async def stamp_batch(session: AsyncSession, batch_id: str, debits: list[SepaDebit]) -> None:
    """Stamp the debits with their file and note each mandate's last use, in a few
    set-based statements (a day can hold a hundred thousand debits)."""
    ids = [debit.id for debit in debits]
    await session.execute(
        update(SepaDebit)
        .where(SepaDebit.id == any_(bindparam("ids", ids, type_=ARRAY(Integer))))
        .values(batch_id=batch_id)
        .execution_options(synchronize_session=False)
    )
    mandates_by_day: dict[date, set[str]] = defaultdict(set)
    for debit in debits:
        mandates_by_day[debit.collection_date].add(debit.mandate_reference)
    for day, references in sorted(mandates_by_day.items()):  # GREATEST keeps the latest day
        await session.execute(
            update(SepaMandate)
            .where(SepaMandate.reference == any_(bindparam("refs", sorted(references),
                                                           type_=ARRAY(String))))
            .values(last_used_on=func.greatest(func.coalesce(SepaMandate.last_used_on, day), day))
            .execution_options(synchronize_session=False)
        )  # fmt: skip


class CollectionActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        issued: Recent[IssuedInvoice] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.issued = issued if issued is not None else Recent[IssuedInvoice]()

    async def _invoice(self, session: AsyncSession, number: str) -> Invoice:
        """The invoice (never changed once written): as this process issued it, or loaded."""
        if (issued := self.issued.get(number)) is not None:
            return issued.invoice
        invoice = await invoice_by_number(session, number)
        assert invoice is not None, number
        return invoice

    async def _invoice_anywhere(self, number: str) -> Invoice:
        """The invoice from this process's memory, else from a read of its own (an invoice
        never changes, so it need not be read in the transaction that writes)."""
        async with self.session_factory() as session:  # connects only on a miss
            return await self._invoice(session, number)

    @activity.defn
    async def open_receivable(self, input: NumberInput) -> ReceivableInfo:
        """The receivable of an invoice (once); a credit note is booked on the invoice it
        corrects instead."""
        invoice = await self._invoice_anywhere(input.number)
        business = invoice.buyer.get("kind") == "business"
        if invoice.type_code == "381":
            if invoice.preceding_number:
                async with self.session_factory() as session, session.begin():
                    original = await lock_receivable(session, invoice.preceding_number)
                    if original is not None:
                        await book(
                            session, original, key=f"credit:{invoice.number}", kind="credit_note",
                            amount_cents=invoice.gross_cents, booked_on=invoice.issue_date,
                        )  # fmt: skip
            return ReceivableInfo(number=invoice.number, credit_note=True, business=business,
                                  due_date=invoice.due_date, amount_cents=0,
                                  contract_id=str(invoice.contract_id), sepa=False)  # fmt: skip
        async with driver_connection(self.session_factory) as db:  # one statement: atomic
            await db.execute(
                "INSERT INTO receivable (invoice_number, customer_id, contract_id, amount_cents,"
                " paid_cents, due_date, status, disputed, updated_at)"
                " VALUES ($1, $2, $3, $4, 0, $5, 'open', false, now()) ON CONFLICT DO NOTHING",
                invoice.number, invoice.customer_id, invoice.contract_id, invoice.gross_cents,
                invoice.due_date,
            )  # fmt: skip
        return ReceivableInfo(
            number=invoice.number,
            credit_note=False,
            business=business,
            due_date=invoice.due_date,
            amount_cents=invoice.gross_cents,
            contract_id=str(invoice.contract_id),
            sepa=invoice.payment.get("method") == "sepa_direct_debit",
        )

    @activity.defn
    async def register_debit(self, input: RepresentInput) -> DebitRegistration:
        """A debit for the collection day (attempt n) of at most what is open, unless the
        invoice is paid already, or the mandate has lapsed (36 months unused) or was revoked:
        then the invoice is paid by transfer."""
        invoice = await self._invoice_anywhere(input.number)
        async with driver_transaction(self.session_factory) as db:
            receivable = await db.fetchrow(
                "SELECT amount_cents - paid_cents AS open_cents FROM receivable"
                " WHERE invoice_number = $1 FOR UPDATE", invoice.number
            )  # fmt: skip
            if receivable is not None and receivable["open_cents"] <= 0:  # paid before the debit
                return DebitRegistration(registered=False, reason="nothing open")
            customer = await db.fetchrow(
                "SELECT id, payment_method, mandate_reference, mandate_signed_on, iban, bic,"
                " company, name, country, city FROM customer WHERE id = $1 FOR UPDATE",
                invoice.customer_id,
            )
            assert customer is not None
            reference = customer["mandate_reference"]
            if customer["payment_method"] != "sepa_direct_debit" or not reference:
                return DebitRegistration(registered=False, reason="no SEPA mandate")
            assert customer["iban"] and customer["mandate_signed_on"]
            await db.execute(
                "INSERT INTO sepa_mandate (reference, customer_id, iban, bic, signed_on, status)"
                " VALUES ($1, $2, $3, $4, $5, 'active') ON CONFLICT DO NOTHING",
                reference, customer["id"], customer["iban"], customer["bic"],
                customer["mandate_signed_on"],
            )  # fmt: skip
            mandate = await db.fetchrow(
                "SELECT reference, iban, bic, signed_on, last_used_on, status FROM sepa_mandate"
                " WHERE reference = $1 FOR UPDATE", reference
            )  # fmt: skip
            wanted = input.on or invoice.due_date
            collection = on_or_after(max(wanted, next_business_day(input.today or wanted)))
            last = mandate["last_used_on"] or mandate["signed_on"]
            status = mandate["status"]
            if status != "active" or collection >= add_months(last, MANDATE_LAPSES_AFTER_MONTHS):
                if status == "active":
                    status = "lapsed"
                    await db.execute(
                        "UPDATE sepa_mandate SET status = 'lapsed' WHERE reference = $1", reference
                    )
                return DebitRegistration(registered=False, reason=f"mandate {status}")
            e2e = invoice.number if input.attempt == 1 else f"{invoice.number}-{input.attempt}"
            wanted_cents = input.amount_cents or invoice.gross_cents
            open_cents = receivable["open_cents"] if receivable else invoice.gross_cents
            debit = await db.fetchrow(
                "INSERT INTO sepa_debit (invoice_number, attempt, end_to_end_id, mandate_reference,"
                " mandate_signed_on, iban, bic, debtor_name, debtor_country, debtor_town,"
                " amount_cents, collection_date, sequence_type, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'RCUR', now())"
                " ON CONFLICT DO NOTHING"
                " RETURNING collection_date, end_to_end_id, amount_cents",
                invoice.number, input.attempt, e2e, reference, mandate["signed_on"],
                mandate["iban"], mandate["bic"], customer["company"] or customer["name"],
                customer["country"], customer["city"], min(wanted_cents, open_cents), collection,
            ) or await db.fetchrow(  # registered by an earlier attempt of this step
                "SELECT collection_date, end_to_end_id, amount_cents FROM sepa_debit"
                " WHERE invoice_number = $1 AND attempt = $2", invoice.number, input.attempt
            )  # fmt: skip
            return DebitRegistration(
                registered=True,
                collection_date=debit["collection_date"],
                end_to_end_id=debit["end_to_end_id"],
                amount_cents=debit["amount_cents"],
            )

    @activity.defn
    async def switch_to_transfer(self, input: NumberInput) -> None:
        """After MD06/AC04/MD01…: no more debits from this mandate; the customer pays by
        transfer until a new mandate arrives."""
        async with self.session_factory() as session, session.begin():
            invoice = await self._invoice(session, input.number)
            customer = await session.get(Customer, invoice.customer_id, with_for_update=True)
            assert customer is not None
            if customer.mandate_reference:
                mandate = await session.get(SepaMandate, customer.mandate_reference)
                if mandate is not None:
                    mandate.status = "revoked"
            customer.payment_method = "bank_transfer"

    @activity.defn
    async def build_sepa_batch(self, input: SepaBatchInput) -> SepaBatchResult:
        """One pain.008 per day with every debit due by the next TARGET2 business day; each
        debit lands in exactly one file (it is stamped with the batch in the same transaction)."""
        batch_id = f"SDD-{input.day.isoformat()}"
        async with self.session_factory() as session, session.begin():
            existing = await session.get(SepaBatch, batch_id)
            if existing is not None:
                return SepaBatchResult(batch_id=batch_id, transactions=existing.transactions,
                                       path=existing.path)  # fmt: skip
            horizon = next_business_day(input.day)
            debits = (
                (
                    await session.execute(
                        select(SepaDebit)
                        .where(SepaDebit.batch_id.is_(None), SepaDebit.collection_date <= horizon)
                        .order_by(SepaDebit.collection_date, SepaDebit.id)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            if not debits:
                return SepaBatchResult(batch_id=None, transactions=0, path=None)
            seller = self.settings.seller
            created = datetime.combine(input.day, time(6), UTC)
            content = build_pain008(
                batch_id,
                created,
                Creditor(seller.name, seller.iban, seller.bic, seller.creditor_id),
                [
                    Debit(d.end_to_end_id, d.amount_cents,
                          max(d.collection_date, horizon), d.sequence_type,
                          d.mandate_reference, d.mandate_signed_on, d.debtor_name, d.iban,
                          d.bic, d.debtor_town, d.debtor_country, d.invoice_number)
                    for d in debits
                ],
            )  # fmt: skip
            path = self.settings.archive_dir / "sepa" / f"{input.day:%Y/%m}" / f"{batch_id}.xml"
            write_once(path, content)
            await stamp_batch(session, batch_id, debits)
            session.add(
                SepaBatch(id=batch_id, message_id=batch_id, built_on=input.day, path=str(path),
                          sha256=hashlib.sha256(content).hexdigest(), transactions=len(debits),
                          control_sum_cents=sum(d.amount_cents for d in debits))
            )  # fmt: skip
            return SepaBatchResult(batch_id=batch_id, transactions=len(debits), path=str(path))

    @activity.defn
    async def receivable_state(self, input: NumberInput) -> ReceivableState:
        async with self.session_factory() as session:
            receivable = await session.get(Receivable, input.number)
            assert receivable is not None
            return ReceivableState(
                open_cents=receivable.open_cents,
                status=receivable.status,
                disputed=receivable.disputed,
            )

    @activity.defn
    async def prepare_dunning_letter(self, input: DunningStepInput) -> DunningStepResult:
        """Record the step and render its letter (fees, interest to the letter day, deadline);
        the workflow then sends it through ``send_document``."""
        async with self.session_factory() as session, session.begin():
            receivable = await lock_receivable(session, input.number)
            assert receivable is not None
            invoice = await self._invoice(session, input.number)
            business = invoice.buyer.get("kind") == "business"
            policy = default_policy(business)
            step = Step(input.step)
            if step is Step.REMINDER and receivable.default_since is None:
                receivable.default_since = input.on + timedelta(days=1)
            reached = [s.step for s in policy.steps][
                : [s.step for s in policy.steps].index(step) + 1
            ]
            charges = charges_at(
                policy, reached, principal_cents=receivable.open_cents,
                default_since=receivable.default_since, on=input.on, business=business,
            )  # fmt: skip
            fees_on_returns = await return_fees(session, input.number)
            receivable.dunning_step = step.value
            receivable.updated_at = utcnow()
            deadline = input.on + timedelta(
                days=policy.final_notice_deadline_days if step is Step.FINAL_NOTICE else 10
            )
            letter = DunningLetter(
                step=step.value, number=invoice.number, invoice_date=invoice.issue_date,
                due_date=invoice.due_date, letter_date=input.on, deadline=deadline,
                open_cents=receivable.open_cents, fee_cents=charges.fee_cents,
                flat_fee_cents=charges.flat_fee_cents, interest_cents=charges.interest_cents,
                return_fee_cents=fees_on_returns, default_since=receivable.default_since,
                seller=self.settings.seller.model_dump(), buyer=invoice.buyer,
            )  # fmt: skip
            path = letter_path(self.settings.archive_dir, invoice.number, step.value)
            if not path.exists():
                write_once(path, render_dunning_letter(letter))
            return DunningStepResult(
                fee_cents=charges.fee_cents,
                flat_fee_cents=charges.flat_fee_cents,
                interest_cents=charges.interest_cents,
                return_fee_cents=fees_on_returns,
                total_cents=letter.total_cents,
                deadline=deadline,
                open_cents=receivable.open_cents,
            )

    @activity.defn
    async def hand_over_to_collection(self, input: DunningStepInput) -> None:
        """The §4.3 data set for the agency; our own dunning stops with it."""
        async with self.session_factory() as session, session.begin():
            receivable = await lock_receivable(session, input.number)
            assert receivable is not None
            invoice = await self._invoice(session, input.number)
            contract = await session.get(Contract, invoice.contract_id)
            customer = await session.get(Customer, invoice.customer_id)
            assert contract is not None and customer is not None
            versions = (
                (
                    await session.execute(
                        select(ContractVersion)
                        .where(ContractVersion.contract_id == contract.id)
                        .order_by(ContractVersion.version.desc())
                        .limit(1)
                    )
                )
                .scalars()
                .all()
            )
            payments = (
                (
                    await session.execute(
                        select(Payment)
                        .where(Payment.invoice_number == invoice.number)
                        .order_by(Payment.id)
                    )
                )
                .scalars()
                .all()
            )
            letters = (
                (
                    await session.execute(
                        select(OutboxMessage).where(
                            OutboxMessage.reference == invoice.number,
                            OutboxMessage.purpose.like("dunning%"),
                        )
                    )
                )
                .scalars()
                .all()
            )
            business = customer.kind == "business"
            charges = charges_at(
                default_policy(business), list(Step), principal_cents=receivable.open_cents,
                default_since=receivable.default_since, on=input.on, business=business,
            )  # fmt: skip
            data = self._case_data(
                invoice, contract, customer, receivable, versions, payments, letters, charges
            )
            await session.execute(
                insert(CollectionCase)
                .values(invoice_number=invoice.number, customer_id=customer.id, data=data,
                        handed_over_on=input.on)
                .on_conflict_do_nothing()
            )  # fmt: skip
            receivable.status = "collection"
            receivable.dunning_step = Step.COLLECTION.value

    def _case_data(  # type: ignore[no-untyped-def]
        self, invoice, contract, customer, receivable, versions, payments, letters, charges
    ) -> dict:
        seller = self.settings.seller
        last_day = invoice.service_end - timedelta(days=1)
        since = receivable.default_since
        return {
            "creditor": {
                "name": seller.name,
                "address": f"{seller.street} {seller.house_number}, {seller.postcode} "
                f"{seller.city}",
            },
            "customer_number": customer.crm_reference,
            "contract": {
                "reference": contract.crm_reference,
                "concluded_on": contract.concluded_on.isoformat(),
                "start_date": contract.start_date.isoformat(),
                "items": versions[0].items if versions else [],
            },
            "debtor": {
                "name": customer.name,
                "company": customer.company,
                "kind": customer.kind,
                "address": f"{customer.street} {customer.house_number}, {customer.postcode} "
                f"{customer.city}, {customer.country}",
                "email": customer.email,
                "iban": customer.iban,
            },
            "claim": {
                "invoice_number": invoice.number,
                "invoice_date": invoice.issue_date.isoformat(),
                "service_period": [invoice.service_start.isoformat(), last_day.isoformat()],
                "net_cents": invoice.net_cents,
                "tax_cents": invoice.tax_cents,
                "gross_cents": invoice.gross_cents,
                "open_cents": receivable.open_cents,
                "due_date": invoice.due_date.isoformat(),
                "default_since": since.isoformat() if since else None,
                "default_basis": "Mahnung (Zahlungserinnerung), § 286 Abs. 1 BGB",
            },
            "payments": [
                {
                    "kind": p.kind,
                    "amount_cents": p.amount_cents,
                    "booked_on": p.booked_on.isoformat(),
                    "reason": p.reason,
                    "fee_cents": p.fee_cents,
                }
                for p in payments
            ],  # fmt: skip
            "dunning": [
                {
                    "step": m.purpose,
                    "message_id": m.message_id,
                    "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                    "smtp_reply": m.smtp_reply,
                    "channel": m.status,
                }
                for m in letters
            ],  # fmt: skip
            "interest": {
                "points_above_base_rate": 9 if customer.kind == "business" else 5,
                "cents": charges.interest_cents,
            },
            "fees_cents": charges.fee_cents,
            "flat_fee_cents": charges.flat_fee_cents,
            "disputed": receivable.disputed,
        }
