"""Errors in FastAPI's 422 shape: the field path and the reason, for checks that need the DB."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError


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


def install_handlers(app: FastAPI) -> None:
    """A value only the database refuses is bad input, not a server error: 422 with the
    database's reason. The transaction was rolled back, so nothing changed."""

    @app.exception_handler(DBAPIError)
    async def _refused_value(request: Request, error: DBAPIError) -> JSONResponse:
        refusal = _data_error(error)
        if refusal is None:
            raise error
        reason = str(refusal).split("\n")[0]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": [{"loc": ["body"], "msg": f"a value was refused: {reason}",
                                 "type": "value_error"}]},
        )  # fmt: skip
