"""``Idempotency-Key`` for every state-changing request (POST, PUT, PATCH, DELETE).

An ASGI middleware, so no route can forget it: the first request with a key claims it
(a ``pending`` row, committed before the route runs), and its successful answer is stored.
The same key with the same body then gets that answer again (``Idempotent-Replayed: true``)
without reaching the route; with another body, or while the first is still running, a 409.
Answers other than 2xx are not kept: they changed nothing, so the key may be used again.
A request that lost the database mid-way cannot settle its key (outages.py): its process
keeps the settlement and the API's relay makes it once the database is back. A claim whose
request died with its process is taken over after STALE_AFTER, and one made before the
database last started at once; a late settlement leaves a claim taken over alone. The
routes underneath are idempotent themselves (CRM references, update ids, statement ids), so
a takeover cannot double an effect. Claim and answer are plain SQL on the driver
(db/driver.py): they wrap every keyed request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.outages import (
    RETRY_AFTER_SECONDS,
    log_outage,
    unavailable_detail,
)
from db.driver import driver_connection, insert_row
from db.models import IdempotentRequest, utcnow
from outages import unavailable_service

log = logging.getLogger("faktura.api")
HEADER = "Idempotency-Key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 200
STALE_AFTER = timedelta(minutes=5)
# claims an outage left for the relay to settle, at most (beyond, STALE_AFTER frees them)
MAX_LEFT_OVER = 10_000
_THIS = "WHERE scope = $1 AND key = $2"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Stored:
    status_code: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Owned:
    """This request owns the key: its claim, made (or taken over) at ``claimed_at``."""

    claimed_at: datetime


class Refused(Exception):
    """The key cannot be used for this request (409); ``retry_after`` seconds if it can be
    used once its first request has finished or been given up."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


async def claim(
    factory: async_sessionmaker[AsyncSession], scope: str, key: str, fingerprint: str
) -> Stored | Owned:
    """Owned: this request owns the key now. Stored: the answer to replay. Raises Refused."""
    async with driver_connection(factory) as db:
        while True:
            pending = IdempotentRequest(scope=scope, key=key, fingerprint=fingerprint)
            if await insert_row(db, pending, skip_conflicts=True):
                return Owned(pending.created_at)
            async with db.transaction():
                row = await db.fetchrow(
                    "SELECT *, pg_postmaster_start_time() AS database_started"
                    f" FROM idempotent_request {_THIS} FOR UPDATE",
                    scope,
                    key,
                )
                if row is not None:  # else its request failed and freed the key just now
                    return await _claim_taken(db, row, scope, key, fingerprint)


async def _claim_taken(
    db: asyncpg.Connection, row: asyncpg.Record, scope: str, key: str, fingerprint: str
) -> Stored | Owned:
    """The key is held (``row``, locked): replay its answer, refuse, or take over a claim
    whose request died."""
    if row["fingerprint"] != fingerprint:
        raise Refused(f"{HEADER} was used for a request with another body")
    if row["state"] == "done":
        return Stored(row["status_code"], row["content_type"] or "application/json", row["body"])
    age = utcnow() - row["created_at"]
    if age < STALE_AFTER and row["created_at"] > row["database_started"]:
        # Ask again soon rather than at the takeover: a claim that an outage kept its
        # request from settling is settled by the relay a moment after the database is back.
        wait = min(math.ceil((STALE_AFTER - age).total_seconds()), RETRY_AFTER_SECONDS)
        raise Refused(f"a request with this {HEADER} is still being processed", retry_after=wait)
    # its request died, or lost the database in its restart: this one takes over
    now = utcnow()
    await db.execute(f"UPDATE idempotent_request SET created_at = $3 {_THIS}", scope, key, now)
    return Owned(now)


@dataclass(frozen=True)
class Settlement:
    """How a request that owned a key ended: its answer to keep, or None to free the key."""

    scope: str
    key: str
    claim: Owned
    answer: Stored | None


async def settle(factory: async_sessionmaker[AsyncSession], settlement: Settlement) -> None:
    """Keep a successful answer; free the key after any other outcome. Only while the claim
    is still this request's: one taken over meanwhile belongs to the request that took it."""
    scope, key, claimed_at = settlement.scope, settlement.key, settlement.claim.claimed_at
    mine = f"{_THIS} AND state = 'pending' AND created_at = $3"
    async with driver_connection(factory) as db:
        if settlement.answer is None:
            await db.execute(f"DELETE FROM idempotent_request {mine}", scope, key, claimed_at)
        else:
            answer = settlement.answer
            await db.execute(
                "UPDATE idempotent_request SET state = 'done', status_code = $4,"
                f" content_type = $5, body = $6 {mine}",
                scope, key, claimed_at, answer.status_code, answer.content_type, answer.body,
            )  # fmt: skip


async def _respond(
    send: Send, status_code: int, body: bytes, content_type: str, **extra: str
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _problem(
    send: Send, status_code: int, message: str, kind: str, retry_after: int | None = None
) -> Awaitable[None]:
    if status_code == 422:
        detail: Any = [{"loc": ["header", HEADER], "msg": message, "type": kind}]
    else:
        detail = message
    body = json.dumps({"detail": detail}).encode()
    extra = {} if retry_after is None else {"retry-after": str(retry_after)}
    return _respond(send, status_code, body, "application/json", **extra)


class IdempotencyMiddleware:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER.lower().encode())
        if raw_key is None:
            return await self.app(scope, receive, send)
        key = raw_key.decode("latin-1").strip()
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            return await _problem(send, 422, f"1 to {MAX_KEY_LENGTH} characters", "string_length")
        body = await _read_body(receive)
        request_scope = digest(
            headers.get(b"authorization", b""), scope["method"].encode(), scope["path"].encode()
        )
        fingerprint = digest(headers.get(b"content-type", b""), body)
        factory = scope["app"].state.session_factory
        try:
            got = await claim(factory, request_scope, key, fingerprint)
        except Refused as refused:
            return await _problem(send, 409, str(refused), "conflict", refused.retry_after)
        except Exception as error:
            service = unavailable_service(error)
            if service is None:
                raise
            log_outage(scope["method"], scope["path"], service, error)
            detail = unavailable_detail(service)
            return await _problem(send, 503, detail, "unavailable", RETRY_AFTER_SECONDS)
        if isinstance(got, Stored):
            return await _respond(
                send, got.status_code, got.body, got.content_type,
                **{"idempotent-replayed": "true"},
            )  # fmt: skip
        await self._run_once(scope, body, send, factory, request_scope, key, got)

    async def _run_once(
        self,
        scope: Scope,
        body: bytes,
        send: Send,
        factory: Any,
        request_scope: str,
        key: str,
        claim: Owned,
    ) -> None:
        answer: dict[str, Any] = {"status": 500, "content_type": "application/json", "body": b""}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        answer["content_type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")
            await send(message)

        kept: Stored | None = None
        try:
            await self.app(scope, replay_body, capture)
            if 200 <= answer["status"] < 300:
                kept = Stored(answer["status"], answer["content_type"], answer["body"])
        finally:
            settlement = Settlement(request_scope, key, claim, kept)
            await _settle_if_possible(factory, settlement, scope["app"].state.unsettled_keys)


async def _settle_if_possible(
    factory: async_sessionmaker[AsyncSession], settlement: Settlement, left: list[Settlement]
) -> None:
    """Settle; with the database gone meanwhile the claim stays (the answer has been sent
    already) and goes to ``left``, which the API's relay settles once the database is back
    (``settle_left_over``). Until then a repeat gets a 409 with Retry-After; should this
    process die first, the claim is taken over once the database has restarted or the
    claim is STALE_AFTER old."""
    try:
        await settle(factory, settlement)
    except Exception as error:
        service = unavailable_service(error)
        if service is None:
            raise
        log_outage("settling", f"{HEADER} {settlement.key!r}", service, error)
        if len(left) < MAX_LEFT_OVER:
            left.append(settlement)


async def settle_left_over(
    factory: async_sessionmaker[AsyncSession], left: list[Settlement]
) -> int:
    """Settle the claims an outage left (in order; stops at the next outage); returns how
    many were settled. A successful answer is kept, so the repeat gets it."""
    settled = 0
    while left:
        try:
            await settle(factory, left[0])
        except Exception as error:
            if unavailable_service(error):
                break
            log.exception("could not settle %s %r", HEADER, left[0].key)
        left.pop(0)
        settled += 1
    return settled


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
