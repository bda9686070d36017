"""Builds every activity of the worker from settings and the session factory."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.accounting import AccountingActivities, AccountingExporter
from activities.collection import CollectionActivities
from activities.collection_starts import CollectionStartActivities
from activities.contracts import ContractActivities
from activities.delivery import DeliveryActivities, Mailer, SmtpMailer
from activities.hand_over import HandOverActivities
from activities.invoicing import InvoiceActivities
from activities.provisioning import Provisioner, RecordingProvisioner, WebhookProvisioner
from activities.recent import Recent
from activities.retention import RetentionActivities
from config import Settings
from db.invoices import IssuedInvoice


def build_activities(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    closing: AsyncExitStack,
    mailer: Mailer | None = None,
) -> list[Callable[..., Any]]:
    """The activities, wired to ``settings``; what holds connections is closed by ``closing``."""
    provisioner: Provisioner = RecordingProvisioner(session_factory)
    if settings.provisioning_webhook_url:
        webhook = WebhookProvisioner(
            settings.provisioning_webhook_url, settings.provisioning_timeout_seconds
        )
        closing.push_async_callback(webhook.aclose)
        provisioner = webhook
    issued = Recent[IssuedInvoice]()  # shared: billing fills it, the next steps read it
    contracts = ContractActivities(session_factory, provisioner, settings, issued)
    invoices = InvoiceActivities(session_factory, settings, issued)
    delivery = DeliveryActivities(
        session_factory, settings, mailer or SmtpMailer(settings), invoices
    )
    collection = CollectionActivities(session_factory, settings, issued)
    hand_over = HandOverActivities(invoices, delivery, collection)
    return [
        *contracts.all(),
        invoices.render_invoice_documents,
        delivery.send_document,
        delivery.build_print_batch,
        collection.open_receivable,
        collection.register_debit,
        collection.switch_to_transfer,
        collection.build_sepa_batch,
        collection.receivable_state,
        collection.prepare_dunning_letter,
        collection.hand_over_to_collection,
        hand_over.hand_over_invoice,
        hand_over.hand_over_issued_invoice,
        CollectionStartActivities(session_factory).start_due_collections,
        RetentionActivities(session_factory, settings.idempotency_window_days).forget_expired_rows,
        AccountingActivities(AccountingExporter(session_factory, settings)).export_ended_months,
    ]
