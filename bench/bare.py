"""The bare Temporal ceiling: workflows of the billing chain's shape whose activities do
nothing. Per invoice the chain runs a contract workflow with two local steps: issue, then
the hand-over (documents, e-mail, receivable, debit), which ends by starting the invoice's
workflow with a start delay to its first dunning deadline (workflows/hand_over.py,
activities/hand_over.py); the bare pair does the same with a no-op issuing step.

    python bench/bare.py --address 127.0.0.1:7233 --task-queue bare   # a worker process
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

STEP = {"start_to_close_timeout": timedelta(seconds=60)}
ISSUING_STEPS = 1  # issue; the hand-over step below stands for the rest
IDLE_UNTIL_COLLECTION = timedelta(days=14)


@activity.defn
async def noop(_: str) -> None:
    """Nothing: the cost left is Temporal's and the SDK's."""


@activity.defn
async def start_bare_invoice(number: str) -> None:
    """Like the hand-over step: start the invoice's workflow, idle for now."""
    await activity.client().start_workflow(
        BareInvoiceWorkflow.run, number, id=f"bare-invoice-{number}",
        task_queue=activity.info().task_queue, start_delay=IDLE_UNTIL_COLLECTION,
    )  # fmt: skip


@workflow.defn
class BareContractWorkflow:
    @workflow.run
    async def run(self, number: str) -> None:
        for _ in range(ISSUING_STEPS):
            await workflow.execute_local_activity(noop, number, **STEP)
        await workflow.execute_local_activity(start_bare_invoice, number, **STEP)


@workflow.defn
class BareInvoiceWorkflow:
    @workflow.run
    async def run(self, number: str) -> None:
        """Collection: never reached within a benchmark run."""


def bare_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareContractWorkflow, BareInvoiceWorkflow],
        activities=[noop, start_bare_invoice],
        workflow_runner=UnsandboxedWorkflowRunner(),  # a ceiling: no sandbox cost at all
    )


async def serve(address: str, task_queue: str) -> None:
    client = await Client.connect(address)
    async with bare_worker(client, task_queue):
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="worker for the bare Temporal ceiling")
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", default="bare")
    options = parser.parse_args()
    asyncio.run(serve(options.address, options.task_queue))


if __name__ == "__main__":
    main()
