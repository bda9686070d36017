"""Errors in FastAPI's 422 shape: the field path and the reason, for checks that need the DB;
and 503 for a service out of reach."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError

from api.outages import (
    RETRY_AFTER_SECONDS,
    log_outage,
    unavailable_detail,
)
from db.engine import DatabaseUnavailable
from outages import unavailable_service


class FieldError(Exception):
    """A request field that failed a check; becomes HTTP 422 naming the field."""

    def __init__(self, loc: Sequence[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = ["body", *loc]
        self.msg = msg
        self.kind = kind

    def to_http(self) -> HTTPException:
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": self.loc, "msg": self.msg, "type": self.kind}],
        )


def conflict(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=detail)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


def _data_error(error: BaseException) -> asyncpg.exceptions.DataError | None:
    """The database's refusal of a value (too long, out of range, a NUL character)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, asyncpg.exceptions.DataError):
            return seen
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return None


def unavailable_response(service: str) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": unavailable_detail(service)},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_handlers(app: FastAPI) -> None:
    """A value only the database refuses is bad input, not a server error: 422 with the
    database's reason. The transaction was rolled back, so nothing changed. A service out of
    reach is a 503 naming it (outages.py, api/outages.py)."""

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(RPCError)
    @app.exception_handler(RuntimeError)
    async def _unavailable(request: Request, error: Exception) -> JSONResponse:
        service = unavailable_service(error)
        if service is None:
            raise error
        log_outage(request.method, request.url.path, service, error)
        return unavailable_response(service)

    @app.exception_handler(DBAPIError)
    async def _refused_value(request: Request, error: DBAPIError) -> JSONResponse:
        refusal = _data_error(error)
        if refusal is None:
            return await _unavailable(request, error)
        reason = str(refusal).split("\n")[0]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": [{"loc": ["body"], "msg": f"a value was refused: {reason}",
                                 "type": "value_error"}]},
        )  # fmt: skip
