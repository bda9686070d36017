"""Handing a cancellation to its contract's workflow when the request could not: the API's
relay signals what ``cancellation_request`` still holds (db/cancellation_requests.py).

The signal carries the request's id, which the update the request may have left with the
server carries too, so the workflow records the cancellation once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.workflow_starts import contract_workflow_id
from db import cancellation_requests
from db.driver import driver_transaction
from outages import pass_on
from workflows.contract import ContractWorkflow
from workflows.models import CancelRequest


async def signal_cancellation(temporal: Any, contract_id: Any, cancel: CancelRequest) -> None:
    """Into the workflow's history at once; handled when its worker runs it."""
    handle = temporal.get_workflow_handle_for(
        ContractWorkflow.run, contract_workflow_id(contract_id)
    )
    await handle.signal(ContractWorkflow.cancellation_requested, cancel)


async def deliver_left_over(state: Any, *, older_than: timedelta, limit: int = 100) -> int:
    """The relay's round: signal the cancellations still kept; returns how many went."""
    async with driver_transaction(state.session_factory) as db:
        pending = await cancellation_requests.pending(db, older_than, limit)
        passed = await pass_on(
            pending,
            lambda kept: signal_cancellation(state.temporal, kept[0], kept[1]),
            lambda kept: str(kept[1].request_id),
        )
        await cancellation_requests.settle(db, passed.done, passed.failed)
    return len(passed.done)
