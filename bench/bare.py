"""The bare Temporal ceiling: workflows of the billing chain's shape whose activities do
nothing. Per invoice the chain runs a contract workflow with two local steps: issue, then
the hand-over (documents, e-mail, receivable, debit), which ends with a pending start of
the invoice's workflow, a database row (workflows/hand_over.py, activities/hand_over.py).
The bare workflow runs two no-op local steps. (Until the pending start, the hand-over
started the invoice's workflow with a start delay, and the bare one did the same.)

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
LOCAL_STEPS = 2  # issue, hand over


@activity.defn
async def noop(_: str) -> None:
    """Nothing: the cost left is Temporal's and the SDK's."""


@workflow.defn
class BareContractWorkflow:
    @workflow.run
    async def run(self, number: str) -> None:
        for _ in range(LOCAL_STEPS):
            await workflow.execute_local_activity(noop, number, **STEP)


def bare_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareContractWorkflow],
        activities=[noop],
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
