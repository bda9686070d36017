"""/healthz reports database, Temporal and worker, and names what is down."""

from __future__ import annotations

import httpx

from api.main import create_app
from config import Settings
from devstack.processes import free_port
from temporal_client import connect
from tests.helpers import eventually


async def test_all_green_with_a_worker(api: httpx.AsyncClient, worker: object) -> None:
    # The worker's first poll reaches the server a moment after it starts.
    response = await eventually(lambda: api.get("/healthz"), lambda r: r.status_code == 200)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "temporal": True,
        "worker": True,
    }
    # no failure by itself; a monitor watches it (tests/e2e/test_outages.py counts it)
    assert set(body["backlog"]) == {
        "workflow_starts", "credit_notes", "cancellations", "bank_bookings", "failed_before",
        "oldest_seconds", "collection_starts_failing",
    }  # fmt: skip


async def test_no_worker_is_reported(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["temporal"]["ok"]
    assert not checks["worker"]["ok"]
    assert "no worker polls" in checks["worker"]["detail"]


async def test_database_and_temporal_down_are_named(settings: Settings) -> None:
    dead = settings.model_copy(
        update={
            "database_url": f"postgresql+asyncpg://faktura@127.0.0.1:{free_port()}/faktura",
            "temporal_address": f"127.0.0.1:{free_port()}",
        }
    )
    app = create_app(dead, temporal_client=await connect(dead, lazy=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://faktura") as client:
            response = await client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["database"]["ok"] and "down" in checks["database"]["detail"]
    assert not checks["temporal"]["ok"] and "down" in checks["temporal"]["detail"]
    assert response.json()["backlog"] is None  # the database did not answer
