"""Runs this code starts carry their shape and record no patch markers; runs begun before
(no shape in their input) ask ``workflow.patched`` as they always did (workflows/versions.py).
"""

from __future__ import annotations

import json
import uuid

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from workflows import versions


@workflow.defn
class PatchProbe:
    """Asks for one change, as the contract's and the invoice's workflow do."""

    @workflow.init
    def __init__(self, shape: int, patch_id: str) -> None:
        self.shape = shape

    @workflow.run
    async def run(self, shape: int, patch_id: str) -> bool:
        return versions.patched(patch_id)


def patch_markers(history: WorkflowHistory) -> list[str]:
    found = []
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_patch":
                data = marker.details["patch-data"].payloads[0].data
                found.append(json.loads(data)["id"])
    return found


async def run_probe(
    env: WorkflowEnvironment, shape: int, patch_id: str = "local-steps"
) -> tuple[bool, WorkflowHistory]:
    queue = f"probe-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[PatchProbe]):
        handle = await env.client.start_workflow(
            PatchProbe.run, args=[shape, patch_id], id=f"probe-{uuid.uuid4()}", task_queue=queue
        )
        on = await handle.result()
        history = await handle.fetch_history()
    await Replayer(workflows=[PatchProbe]).replay_workflow(history)
    return on, history


async def test_a_run_of_this_shape_has_the_change_on_without_a_marker(
    temporal_env: WorkflowEnvironment,
) -> None:
    on, history = await run_probe(temporal_env, versions.SHAPE)
    assert on and patch_markers(history) == []


async def test_a_run_begun_before_shapes_records_the_patch_as_before(
    temporal_env: WorkflowEnvironment,
) -> None:
    on, history = await run_probe(temporal_env, 0)
    assert on and patch_markers(history) == ["local-steps"]


async def test_a_run_of_the_shape_before_records_the_newer_patch(
    temporal_env: WorkflowEnvironment,
) -> None:
    """A contract's run started before short runs (shape 1) marks the change when it first
    meets it; its replay without the marker keeps the old way (the before-short-runs
    corpus in test_replay.py)."""
    on, history = await run_probe(temporal_env, 1, "short-runs")
    assert on and patch_markers(history) == ["short-runs"]
    on, history = await run_probe(temporal_env, 2, "short-runs")
    assert on and patch_markers(history) == []


def test_every_patch_the_workflows_ask_for_is_in_a_shape() -> None:
    """A patch id missing here would raise KeyError in the first run that asks for it."""
    from workflows import contract, hand_over, invoice, steps

    asked = {
        contract.ISSUE_INVOICES, contract.NEW_RUN_AFTER_CHANGE, contract.HAND_OVER_INVOICES,
        contract.SHORT_RUNS, invoice.DELIVER_DOCUMENTS, invoice.COLLECT, steps.LOCAL_STEPS,
        hand_over.ONE_STEP_HAND_OVER, invoice.DISPUTE_RECHECK, contract.CONFIRM_CANCELLATION,
        contract.PENDING_UNTIL_START,
    }  # fmt: skip
    assert asked == set(versions.IN_SHAPE)
