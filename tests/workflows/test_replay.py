"""Replay of committed workflow histories: a non-deterministic workflow change fails here.

The histories in tests/histories/ were recorded from real runs (activation, catch-up,
continue-as-new, plan changes, cancellation, suspension, signals). A change to a workflow
must keep replaying them, e.g. by guarding new steps with ``workflow.patched(...)``.
The Replayer uses the default, strict sandbox, as the in-process workflow tests do; the
production worker runs without it (worker.py), so this is where a clock, IO or random call
is caught.
"""

from __future__ import annotations

import base64
import json

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from temporal_client import DATA_CONVERTER
from tests.helpers import HISTORIES
from workflows.hand_over import HAND_OVER_ISSUED_INVOICE as HAND_OVER_STEP
from workflows.registry import WORKFLOWS
from workflows.versions import SHAPE

FILES = sorted(HISTORIES.rglob("*.json"))
# Older corpora stay in sub-folders: the current code must still replay them.
TEXTS = {str(path.relative_to(HISTORIES).with_suffix("")): path.read_text() for path in FILES}


def test_the_corpus_covers_the_workflow() -> None:
    names = {path.name.rsplit("-", 1)[0] for path in FILES if path.parent == HISTORIES}
    assert {
        "catch-up", "plan-changes", "ordinary-cancellation", "signals", "invoice",
        "invoice-dunning", "invoice-debit", "contract-dunning", "monthly-runs",
        "collection-starts", "invoice-dispute", "pending-cancelled", "accounting-export",
        "withdrawal",
    } <= names  # fmt: skip
    events = set()
    for text in TEXTS.values():
        for event in json.loads(text)["events"]:
            events.add(event["eventType"])
    assert {
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
        "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
        "EVENT_TYPE_TIMER_FIRED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
        "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED",
        "EVENT_TYPE_MARKER_RECORDED",
    } <= events


def test_the_newest_histories_have_this_shape_and_no_patch_markers() -> None:
    """The top-level corpus was recorded with the current code: runs carry the shape in their
    input and take every change without patch markers (workflows/versions.py); contracts
    hand their invoices over in one local step (workflows/hand_over.py)."""
    newest = {
        name: text
        for name, text in TEXTS.items()
        if "/" not in name and _workflow_type(text) in ("ContractWorkflow", "InvoiceWorkflow")
    }
    for name, text in newest.items():
        assert _start_input(text).get("shape") == SHAPE, name
        assert _patch_ids(text) == set(), name
    handing_over = {name for name, text in newest.items() if HAND_OVER_STEP in _local_steps(text)}
    assert {"catch-up", "plan-changes", "contract-dunning"} <= {
        name.rsplit("-", 1)[0] for name in handing_over
    }
    assert _start_input(newest["invoice-dunning-1"])["handed_over"]["receivable"]


def test_the_newest_cancellations_send_their_confirmation() -> None:
    """Runs of this shape confirm a cancellation with send_document; the corpus before the
    patch cancellation-confirmation (which did not) must still replay."""

    def confirms(text: str) -> bool:
        return "send_document" in _scheduled_activities(text)

    newest = [t for n, t in TEXTS.items() if n.startswith("ordinary-cancellation-")]
    assert any(confirms(text) for text in newest)
    before = [
        t for n, t in TEXTS.items() if n.startswith("before-cancellation-confirmation/ordinary-")
    ]
    assert before and not any(confirms(text) for text in before)


def _scheduled_activities(text: str) -> list[str]:
    return [
        event["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for event in json.loads(text)["events"]
        if "activityTaskScheduledEventAttributes" in event
    ]


def test_the_corpus_before_shapes_asked_for_every_patch() -> None:
    """The previous corpus is the one with markers: the code must still replay it."""
    before = set().union(
        *(_patch_ids(t) for n, t in TEXTS.items() if n.startswith("before-shapes/"))
    )
    assert {"local-steps", "issue-invoices", "hand-over-invoices", "one-step-hand-over"} <= before


def test_runs_before_short_runs_lasted_twelve_rounds_and_now_three() -> None:
    """The code must still replay a run that continued as new after twelve billed periods
    (before the patch short-runs); runs of this shape do so once they billed three (a
    catch-up bills every due period first)."""
    billed = {name: _billed_before_new_run(text) for name, text in TEXTS.items()}
    assert 12 in {b for n, b in billed.items() if n.startswith("before-short-runs/")}
    newest = {b for n, b in billed.items() if n.startswith("monthly-runs-") and b is not None}
    assert 3 in newest and min(newest) >= 3


def _billed_before_new_run(text: str) -> int | None:
    """Periods billed in a run that ended with continue-as-new (None for other runs)."""
    if json.loads(text)["events"][-1]["eventType"] != (
        "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
    ):
        return None
    return _local_step_list(text).count("bill_period")


def _local_steps(text: str) -> set[str]:
    """The activity types of a history's local-activity markers."""
    return set(_local_step_list(text))


def _local_step_list(text: str) -> list[str]:
    """The activity type of each local-activity marker, in order."""
    types = []
    for event in json.loads(text)["events"]:
        marker = event.get("markerRecordedEventAttributes") or {}
        for payload in marker.get("details", {}).get("data", {}).get("payloads", []):
            data = json.loads(base64.b64decode(payload["data"]))
            if isinstance(data, dict) and "activity_type" in data:
                types.append(data["activity_type"])
    return types


def _workflow_type(text: str) -> str:
    started = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
    return started["workflowType"]["name"]


def _start_input(text: str) -> dict:
    started = json.loads(text)["events"][0]
    payload = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    return json.loads(base64.b64decode(payload["data"]))


def _patch_ids(text: str) -> set[str]:
    ids = set()
    for event in json.loads(text)["events"]:
        marker = event.get("markerRecordedEventAttributes") or {}
        for payload in marker.get("details", {}).get("patch-data", {}).get("payloads", []):
            ids.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return ids


@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, TEXTS[name])
    await Replayer(workflows=WORKFLOWS, data_converter=DATA_CONVERTER).replay_workflow(history)
