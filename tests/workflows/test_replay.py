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
from workflows.registry import WORKFLOWS

FILES = sorted(HISTORIES.rglob("*.json"))
# Older corpora stay in sub-folders: the current code must still replay them.
TEXTS = {str(path.relative_to(HISTORIES).with_suffix("")): path.read_text() for path in FILES}


def test_the_corpus_covers_the_workflow() -> None:
    names = {path.name.rsplit("-", 1)[0] for path in FILES if path.parent == HISTORIES}
    assert {
        "catch-up", "plan-changes", "ordinary-cancellation", "signals", "invoice",
        "invoice-dunning", "invoice-debit", "contract-dunning",
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


def test_the_newest_histories_hand_invoices_over_in_one_step() -> None:
    """The top-level corpus was recorded with the current shape: contracts issue, send and
    register invoices themselves and hand them over, all in one local step after billing
    (workflows/hand_over.py, activities/hand_over.py)."""
    newest = {name: text for name, text in TEXTS.items() if "/" not in name}
    patches = {
        name
        for name, text in newest.items()
        if {"hand-over-invoices", "one-step-hand-over"} <= _patch_ids(text)
    }
    assert {"catch-up-2", "plan-changes-1", "contract-dunning-1"} <= patches
    started = json.loads(newest["invoice-dunning-1"])["events"][0]
    payload = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    assert json.loads(base64.b64decode(payload["data"]))["handed_over"]["receivable"]


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
