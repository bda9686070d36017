"""``GET /healthz``: is the database reachable, is Temporal, does a worker poll our queue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from api.workflow_starts import LEFT_AFTER
from db.backlog import Backlog, backlog
from db.driver import driver_connection

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = timedelta(seconds=3)
# A worker long-polls for about a minute; a poller not seen for longer is gone.
POLLER_FRESHNESS = timedelta(seconds=90)


class Check(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: str
    checks: dict[str, Check]
    # not part of the status (the API serves); a monitor alerts when it grows (README)
    backlog: Backlog | None = None  # None: the database did not answer


async def _database(request: Request) -> Check:
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return Check(ok=True, detail="reachable")


async def _backlog(request: Request) -> Backlog | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT.total_seconds()):
            async with driver_connection(request.app.state.session_factory) as db:
                return await backlog(db, LEFT_AFTER)
    except Exception:  # noqa: BLE001 - the database check says why
        return None


async def _temporal(request: Request) -> Check:
    await request.app.state.temporal.service_client.check_health(timeout=CHECK_TIMEOUT)
    return Check(ok=True, detail="serving")


async def _worker(request: Request) -> Check:
    settings = request.app.state.settings
    response = await request.app.state.temporal.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=settings.temporal_namespace,
            task_queue=TaskQueue(name=settings.temporal_task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=CHECK_TIMEOUT,
    )
    cutoff = datetime.now(UTC) - POLLER_FRESHNESS
    live = [p for p in response.pollers if p.last_access_time.ToDatetime(UTC) >= cutoff]
    if not live:
        return Check(ok=False, detail=f"no worker polls task queue {settings.temporal_task_queue}")
    return Check(ok=True, detail=f"{len(live)} poller(s) on {settings.temporal_task_queue}")


async def _guarded(check, request: Request) -> Check:  # type: ignore[no-untyped-def]
    try:
        return await asyncio.wait_for(check(request), CHECK_TIMEOUT.total_seconds() + 1)
    except Exception as error:  # noqa: BLE001 - any failure means "down", and we say why
        return Check(ok=False, detail=f"down: {type(error).__name__}: {error}"[:300])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request) -> JSONResponse:
    """200 when database, Temporal and a worker are up; 503 naming what is down. Also what
    waits to be passed on to Temporal (``backlog``, db/backlog.py), which is no failure
    by itself."""
    database, temporal, worker, waiting = await asyncio.gather(
        _guarded(_database, request), _guarded(_temporal, request), _guarded(_worker, request),
        _backlog(request),
    )  # fmt: skip
    checks = {"database": database, "temporal": temporal, "worker": worker}
    healthy = all(check.ok for check in checks.values())
    body = Health(status="ok" if healthy else "degraded", checks=checks, backlog=waiting)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
