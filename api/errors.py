"""Errors in FastAPI's 422 shape: the field path and the reason, for checks that need the DB."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import HTTPException, status


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
