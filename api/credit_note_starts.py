"""Starting the workflow of a credit note issued through the API (it renders, sends and
books the note), from the ``credit_note_start`` outbox (db/credit_note_starts.py).

The request starts it right after its commit (``start_issued``), waiting at most
START_WAIT (api/workflow_starts.py); the API's relay (api/relays.py) starts what is left
(``start_left_over``). ``invoice-{number}`` is started once, however often either tries
(temporal_client.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from api.workflow_starts import why_not_started
from db import credit_note_starts
from db.credit_note_starts import PendingStart
from db.driver import driver_connection, driver_transaction
from outages import pass_on
from temporal_client import start_invoice_workflow
from workflows.models import InvoiceWorkflowInput

log = logging.getLogger("faktura.credit_notes")


async def _start(state: Any, start: PendingStart) -> None:
    await start_invoice_workflow(
        state.temporal,
        state.settings.temporal_task_queue,
        InvoiceWorkflowInput(
            number=start.number, contract_id=start.contract_id, customer_id=start.customer_id
        ),
        start.summary,
    )


async def start_issued(state: Any, start: PendingStart) -> None:
    """Right after the note's commit: start its workflow and delete its row; after a
    failure, or after START_WAIT, the row stays for the relay."""
    failure = await why_not_started(_start(state, start))
    if failure:
        log.warning("workflow of credit note %s left to the relay: %s", start.number, failure)
    async with driver_connection(state.session_factory) as db:
        if failure:
            await credit_note_starts.settle(db, [], {start.number: failure})
        else:
            await credit_note_starts.settle(db, [start.number], {})


async def start_left_over(state: Any, *, older_than: timedelta, limit: int = 100) -> int:
    """The relay's round: start the workflows still pending; returns how many started."""
    async with driver_transaction(state.session_factory) as db:
        pending = await credit_note_starts.pending(db, older_than, limit)
        passed = await pass_on(pending, lambda start: _start(state, start), lambda s: s.number)
        await credit_note_starts.settle(db, passed.done, passed.failed)
    return len(passed.done)
