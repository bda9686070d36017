"""Starting contract workflows from the transactional outbox (``workflow_start``).

The contract and its outbox row commit together; this relay then starts
``contract-{id}`` with id-conflict policy USE_EXISTING, so a retry after a crash or a
Temporal outage never starts a second run. It runs right after each create
(``start_created``) and in the API's relay (api/relays.py) for whatever is still pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.driver import driver_connection
from db.models import Contract, WorkflowStart, utcnow
from outages import failure_text, pass_on
from workflows import search_attributes as sa
from workflows.contract import ContractWorkflow
from workflows.models import ContractState, ContractStatus, ContractWorkflowInput
from workflows.versions import SHAPE

log = logging.getLogger("faktura.workflow_starts")
START_TIMEOUT = timedelta(seconds=5)
# A row younger than this belongs to the request that wrote it: it starts the run itself
# right after its commit. The relay starting fresh rows one by one under their row locks
# stalled those requests by seconds under load (docs/PERFORMANCE.md, API load).
LEFT_AFTER = START_TIMEOUT * 2
# How long a create waits for its workflow's start before leaving it to the relay: with
# Temporal unreachable, its client would retry for ~10 s, and the CRM with it.
START_WAIT = timedelta(seconds=2)


def contract_workflow_id(contract_id: uuid.UUID) -> str:
    return f"contract-{contract_id}"


async def start_contract_workflow(
    client: Client,
    task_queue: str,
    contract: Contract,
    state: ContractState | None = None,
    start_delay: timedelta | None = None,
) -> None:
    """Start ``contract-{id}`` (pending, or with ``state`` as a continued run carries it);
    ``start_delay`` lets a benchmark's fleet sleep until one moment, as at midnight."""
    # A closed run under this id means it was started before: nothing to do.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            ContractWorkflow.run,
            ContractWorkflowInput(
                contract_id=str(contract.id),
                customer_id=str(contract.customer_id),
                state=state,
                shape=SHAPE,  # every change on without patch markers (workflows/versions.py)
            ),  # fmt: skip
            id=contract_workflow_id(contract.id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(
                        sa.CONTRACT_STATUS,
                        (state.status if state else ContractStatus.PENDING).value,
                    ),
                    SearchAttributePair(sa.CUSTOMER_ID, str(contract.customer_id)),
                ]
            ),
            static_summary=f"Contract {contract.id}",
            start_delay=start_delay,
            rpc_timeout=START_TIMEOUT,
        )


async def start_pending(
    state: Any,
    *,
    contract_ids: Sequence[uuid.UUID] | None = None,
    limit: int = 100,
    older_than: timedelta = timedelta(0),
) -> int:
    """Start workflows for pending outbox rows written before ``older_than``; returns how
    many were started. Rows that failed before come last (by attempts), so a row that
    keeps failing for a reason of its own cannot hold up the others."""
    async with state.session_factory() as session, session.begin():
        query = (
            select(WorkflowStart, Contract)
            .join(Contract, Contract.id == WorkflowStart.contract_id)
            .where(
                WorkflowStart.started_at.is_(None),
                WorkflowStart.created_at < utcnow() - older_than,
            )
            .order_by(WorkflowStart.attempts, WorkflowStart.created_at)
            .limit(limit)
            .with_for_update(of=WorkflowStart, skip_locked=True)
        )
        if contract_ids is not None:
            query = query.where(WorkflowStart.contract_id.in_(contract_ids))
        rows = (await session.execute(query)).all()

        async def start(row: Any) -> None:
            await start_contract_workflow(
                state.temporal, state.settings.temporal_task_queue, row.Contract
            )

        passed = await pass_on(rows, start, lambda row: row.WorkflowStart.workflow_id)
        for outbox, _ in rows:
            if outbox.workflow_id in passed.done:
                outbox.started_at = utcnow()
            elif outbox.workflow_id in passed.failed:
                outbox.last_error = passed.failed[outbox.workflow_id]
            else:
                continue  # left for the next round, after an outage
            outbox.attempts += 1
    return len(passed.done)


async def why_not_started(start: Awaitable[None]) -> str | None:
    """Run a start right after its request's commit, waiting at most START_WAIT: None once
    it has started, else why not (the outbox row keeps it; the relay tries again)."""
    try:
        async with asyncio.timeout(START_WAIT.total_seconds()):
            await start
    except TimeoutError:
        return f"TimeoutError: not started within {START_WAIT.total_seconds():g} s"
    except Exception as error:  # noqa: BLE001 - stays pending, retried by the relay
        return failure_text(error)
    return None


async def start_created(state: Any, contract: Contract) -> None:
    """Start the workflow of a contract just committed and mark its outbox row; after a
    failure, or after START_WAIT, the row stays pending for the relay. No row lock is held
    while the start RPC runs: should the relay start the same run meanwhile (or should a
    start given up at START_WAIT have reached the server), USE_EXISTING makes both one, and
    a row the relay holds is left to it."""
    failure = await why_not_started(
        start_contract_workflow(state.temporal, state.settings.temporal_task_queue, contract)
    )
    if failure:
        log.warning("workflow start for contract %s deferred: %s", contract.id, failure)
    async with driver_connection(state.session_factory) as db:
        await db.execute(
            "UPDATE workflow_start SET attempts = attempts + 1,"
            " started_at = CASE WHEN $2::text IS NULL THEN $3::timestamptz END, last_error = $2"
            " WHERE workflow_id = (SELECT workflow_id FROM workflow_start"
            "  WHERE contract_id = $1 AND started_at IS NULL FOR UPDATE SKIP LOCKED)",
            contract.id, failure, utcnow(),
        )  # fmt: skip
