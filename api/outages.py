"""A service that is down is a 503 with Retry-After that names it, never a 500.

Postgres restarting, Temporal out of reach or a workflow whose worker is down is not the
caller's fault and not a bug: the CRM should send the same request again later, with the
same Idempotency-Key, and nothing is done twice (the key, the CRM reference and the update
id see to that).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import HTTPException, status

log = logging.getLogger("faktura.api")
RETRY_AFTER_SECONDS = 5
OPENAPI_RESPONSES: dict[int | str, dict[str, object]] = {
    503: {"description": "Postgres, Temporal or the worker is unavailable: retry after Retry-After"}
}


def unavailable_detail(service: str) -> str:
    return f"{service} is unavailable; send the request again later with the same Idempotency-Key"


def log_outage(method: str, path: str, service: str, error: BaseException) -> None:
    """For the operator: the 503s say what was down, and when."""
    log.warning("%s %s: %s is unavailable: %s", method, path, service, error)


def no_answer(waited: timedelta) -> HTTPException:
    """A workflow that does not answer in time: its worker is down (a deploy, a crash) or
    far behind. An update may still be made once the worker is back; the repeat with the
    same key (the update's id) gets its outcome, and never makes it twice."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"the contract's workflow did not answer within {waited.total_seconds():g} s"
        " (its worker may be down or behind); send the request again later with the same"
        " Idempotency-Key: a change is made once",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def not_started_yet() -> HTTPException:
    """A contract whose workflow the relay has not started yet (Temporal was unavailable when
    it was created): a change or a cancellation can be made once it runs, moments later."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail="the contract's workflow has not started yet (Temporal was unavailable); send"
        " the request again later with the same Idempotency-Key",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
