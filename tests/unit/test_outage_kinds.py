"""Which errors are a service out of reach (outages.py): those become a 503 naming the
service; every other error keeps its own answer."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError, RPCStatusCode

from db.engine import DatabaseUnavailable
from outages import DATABASE, TEMPORAL, WORKER, unavailable_service


@pytest.mark.parametrize(
    ("error", "service"),
    [
        (DatabaseUnavailable("gone"), DATABASE),
        (DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True), DATABASE),
        (DBAPIError("SELECT 1", None, Exception("value too long")), None),
        (PoolTimeout("every connection is busy"), DATABASE),
        (RPCError("tcp connect error", RPCStatusCode.UNAVAILABLE, b""), TEMPORAL),
        (RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""), None),
        (RPCError("transport error", RPCStatusCode.UNKNOWN, b""), TEMPORAL),  # make chaos
        (RPCError("something else", RPCStatusCode.UNKNOWN, b""), None),
        (RuntimeError("Failed client connect: tcp connect error"), TEMPORAL),
        (RuntimeError("a bug"), None),
        (
            RPCError(
                "no poller seen for task queue recently, worker may be down",
                RPCStatusCode.FAILED_PRECONDITION,
                b"",
            ),
            WORKER,
        ),  # fmt: skip
        (RPCError("update on a closed workflow", RPCStatusCode.FAILED_PRECONDITION, b""), None),
        (ValueError("a bug"), None),
    ],
)
def test_only_a_service_out_of_reach_is_an_outage(error: Exception, service: str | None) -> None:
    assert unavailable_service(error) == service
