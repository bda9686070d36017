"""Which errors mean a service is out of reach, not a fault of the request or a bug.

The API answers them with a 503 (api/outages.py); the relays (api/relays.py) stop their
round at one, since the rows after it would meet the same outage, but skip a row that
fails for a reason of its own, so one bad row cannot hold up those behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError, RPCStatusCode

from db.engine import DatabaseUnavailable

log = logging.getLogger("faktura.relay")
T = TypeVar("T")
DATABASE = "the database"
TEMPORAL = "Temporal"
WORKER = "the workflows' worker"
# the client's own retries have given up (~10 s), or the server sheds load
_TEMPORAL_DOWN = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
)
# what a lazy client that has not reached Temporal yet raises instead (temporalio's bridge;
# tests/e2e/test_outages.py pins it)
_NEVER_CONNECTED = "Failed client connect"
# the server's answer to a query when no worker has polled the task queue for a while
_NO_WORKER = "no poller seen"
# what the bridge raises when the connection breaks in the middle of a call (a Temporal
# restart under an update: make chaos met it)
_BROKEN_CONNECTION = "transport error"


def unavailable_service(error: BaseException) -> str | None:
    """Which service ``error`` says is out of reach, or None for any other error."""
    if isinstance(error, DatabaseUnavailable | PoolTimeout):
        return DATABASE
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return DATABASE  # a statement of SQLAlchemy's own on a dropped connection
    if isinstance(error, RPCError) and error.status in _TEMPORAL_DOWN:
        return TEMPORAL
    if isinstance(error, RPCError) and error.status is RPCStatusCode.UNKNOWN:
        return TEMPORAL if error.message == _BROKEN_CONNECTION else None
    if isinstance(error, RuntimeError) and str(error).startswith(_NEVER_CONNECTED):
        return TEMPORAL
    if isinstance(error, RPCError) and error.status is RPCStatusCode.FAILED_PRECONDITION:
        return WORKER if _NO_WORKER in error.message else None
    return None


def failure_text(error: BaseException) -> str:
    """What a row keeps as its ``last_error``."""
    return f"{type(error).__name__}: {error}"[:500]


@dataclass
class Passed:
    """What ``pass_on`` did: the keys passed on, and the errors of those that failed for a
    reason of their own."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


async def pass_on(
    items: Iterable[T], deliver: Callable[[T], Awaitable[object]], key: Callable[[T], str]
) -> Passed:
    """Deliver each in turn: an outage ends the round (the rest would meet it too, and stay
    for the next); an item that fails for a reason of its own is noted and the rest go on,
    so one bad row cannot hold up those behind it."""
    passed = Passed()
    for item in items:
        try:
            await deliver(item)
        except Exception as error:  # noqa: BLE001 - noted; the row stays for the next round
            service = unavailable_service(error)
            if service:
                log.warning("%s on left for later: %s is unavailable", key(item), service)
                break
            log.error("%s failed: %r", key(item), error)
            passed.failed[key(item)] = failure_text(error)
            continue
        passed.done.append(key(item))
    return passed
