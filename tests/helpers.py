"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from temporalio.client import Client

from devstack.smtp_sink import MailSink

KEYS = {
    "crm": "test-crm-key",
    "support": "test-support-key",
    "finance": "test-finance-key",
    "admin": "test-admin-key",
}

T = TypeVar("T")


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """All APIRoutes, also inside included routers (FastAPI includes them lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], within: float = 20
) -> T:
    """Poll ``probe`` until ``check`` holds (workers act asynchronously); return the last value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await probe()
        if check(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


def sent_mails(sink: MailSink, message_id_part: str) -> list[EmailMessage]:
    """The mails in the sink whose Message-ID contains ``message_id_part`` (a document's
    number, or a whole Message-ID)."""
    found = []
    for path in sink.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message_id_part in str(message["Message-ID"]):
            found.append(message)
    return found


HISTORIES = Path(__file__).parent / "histories"


async def record_history(client: Client, workflow_id: str, name: str) -> None:
    """With FAKTURA_RECORD_HISTORIES=1, keep every run of a workflow for the replay test.

    Run ``FAKTURA_RECORD_HISTORIES=1 make test PYTEST_ARGS=tests/workflows`` after a
    deliberate, patched workflow change and commit the new files next to the old ones.
    """
    if os.environ.get("FAKTURA_RECORD_HISTORIES") != "1":
        return
    await asyncio.sleep(1)  # visibility lags a little behind the last run
    runs = client.list_workflows(f"WorkflowId = '{workflow_id}'").map_histories()
    index = 0
    async for history in runs:
        index += 1
        (HISTORIES / f"{name}-{index}.json").write_text(history.to_json())


async def run_and_record(
    client: Client, workflow_run: Any, argument: Any, name: str, task_queue: str
) -> Any:
    """Run a fleet job's workflow to its end under a fresh id and keep its history (above)."""
    workflow_id = f"{name}-{uuid.uuid4()}"
    result = await client.execute_workflow(
        workflow_run, argument, id=workflow_id, task_queue=task_queue
    )
    await record_history(client, workflow_id, name)
    return result


def relay_state(session_factory: Any, temporal: Any, settings: Any) -> SimpleNamespace:
    """What the API's relay functions read of ``app.state`` (api/relays.py)."""
    return SimpleNamespace(
        session_factory=session_factory, temporal=temporal, settings=settings, unsettled_keys=[]
    )
