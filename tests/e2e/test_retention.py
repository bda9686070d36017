"""The nightly clean-up (workflows/retention.py): expired operational rows go, the rest
stays (db/retention.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db import retention
from db.driver import driver_connection
from tests.helpers import run_and_record
from workflows.models import RetentionInput
from workflows.retention import RetentionWorkflow

pytestmark = pytest.mark.usefixtures("worker")


async def test_expired_answers_keys_and_finished_collection_starts_are_deleted_in_batches(
    temporal_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention, "BATCH", 1)  # every row its own statement: the loop runs
    now = datetime.now(UTC)
    window = timedelta(days=settings.idempotency_window_days)
    tag = uuid.uuid4().hex[:8]
    answers = {f"{tag}-expired": now - window - timedelta(hours=1),
               f"{tag}-kept": now - window + timedelta(hours=1)}  # fmt: skip
    starts = {  # number: (state, last changed)
        f"RT{tag}A": ("settled", now - timedelta(days=401)),
        f"RT{tag}B": ("started", now - timedelta(days=401)),
        f"RT{tag}C": ("pending", now - timedelta(days=401)),  # not started yet: never deleted
        f"RT{tag}D": ("settled", now - timedelta(days=399)),  # a return may still come
    }
    claims = {  # a creation's claims: the key's expires with the window, the reference's never
        f"key:{tag}-expired": now - window - timedelta(hours=1),
        f"key:{tag}-kept": now - window + timedelta(hours=1),
        f"crm:{tag}-old": now - window - timedelta(days=3650),
    }
    async with driver_connection(session_factory) as db:
        for key, created_at in answers.items():
            await db.execute(
                "INSERT INTO idempotent_request (scope, key, fingerprint, state, created_at)"
                " VALUES ('retention-test', $1, 'f', 'done', $2)",
                key, created_at,
            )  # fmt: skip
        for key, created_at in claims.items():
            await db.execute(
                "INSERT INTO idempotency_record (scope, key, fingerprint, resource_id, created_at)"
                " VALUES ('retention-test', $1, 'f', $2, $3)",
                key, uuid.uuid4(), created_at,
            )  # fmt: skip
        for number, (state, changed) in starts.items():
            await db.execute(
                "INSERT INTO collection_start (invoice_number, wake_at, state, input, updated_at)"
                " VALUES ($1, $2, $3, NULL, $2)",
                number, changed, state,
            )  # fmt: skip

    result = await run_and_record(
        temporal_env.client, RetentionWorkflow.run, RetentionInput(now=now), "retention",
        settings.temporal_task_queue,
    )  # fmt: skip

    async with driver_connection(session_factory) as db:
        kept_answers = await db.fetch(
            "SELECT key FROM idempotent_request WHERE scope = 'retention-test'"
        )
        kept_claims = await db.fetch(
            "SELECT key FROM idempotency_record WHERE scope = 'retention-test' ORDER BY key"
        )
        kept_starts = await db.fetch(
            "SELECT invoice_number FROM collection_start WHERE invoice_number = ANY($1::text[])",
            list(starts),
        )
    assert [row["key"] for row in kept_answers] == [f"{tag}-kept"]
    assert sorted(row["invoice_number"] for row in kept_starts) == [f"RT{tag}C", f"RT{tag}D"]
    assert [row["key"] for row in kept_claims] == [f"crm:{tag}-old", f"key:{tag}-kept"]
    assert (result.idempotent_requests, result.collection_starts, result.creation_keys) == (1, 2, 1)
