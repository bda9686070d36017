"""``Idempotency-Key`` for every state-changing request (POST, PUT, PATCH, DELETE).

An ASGI middleware, so no route can forget it: the first request with a key claims it
(a ``pending`` row, committed before the route runs), and its successful answer is stored.
The same key with the same body then gets that answer again (``Idempotent-Replayed: true``)
without reaching the route; with another body, or while the first is still running, a 409.
Answers other than 2xx are not kept: they changed nothing, so the key may be used again.
A claim whose request died with its process is taken over after STALE_AFTER; the routes
underneath are idempotent themselves (CRM references, update ids, statement ids), so the
takeover cannot double an effect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import IdempotentRequest, utcnow

HEADER = "Idempotency-Key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 200
STALE_AFTER = timedelta(minutes=5)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Stored:
    status_code: int
    content_type: str
    body: bytes


class Refused(Exception):
    """The key cannot be used for this request (409)."""


def digest(*parts: bytes) -> str:
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


async def claim(
    factory: async_sessionmaker[AsyncSession], scope: str, key: str, fingerprint: str
) -> Stored | None:
    """None: this request owns the key now. Stored: the answer to replay. Raises Refused."""
    async with factory() as session, session.begin():
        inserted = await session.execute(
            insert(IdempotentRequest)
            .values(scope=scope, key=key, fingerprint=fingerprint, state="pending")
            .on_conflict_do_nothing()
            .returning(IdempotentRequest.key)
        )
        if inserted.scalar_one_or_none() is not None:
            return None
        row = (
            await session.execute(
                select(IdempotentRequest)
                .where(IdempotentRequest.scope == scope, IdempotentRequest.key == key)
                .with_for_update()
            )
        ).scalar_one()
        if row.fingerprint != fingerprint:
            raise Refused(f"{HEADER} was used for a request with another body")
        if row.state == "done":
            assert row.status_code is not None and row.body is not None
            return Stored(row.status_code, row.content_type or "application/json", row.body)
        if utcnow() - row.created_at < STALE_AFTER:
            raise Refused(f"a request with this {HEADER} is still being processed")
        row.created_at = utcnow()  # its request died: this one takes over
        return None


async def settle(
    factory: async_sessionmaker[AsyncSession], scope: str, key: str, answer: Stored | None
) -> None:
    """Keep a successful answer; free the key after any other outcome."""
    where = (IdempotentRequest.scope == scope, IdempotentRequest.key == key)
    async with factory() as session, session.begin():
        if answer is None:
            await session.execute(delete(IdempotentRequest).where(*where))
        else:
            await session.execute(
                update(IdempotentRequest)
                .where(*where)
                .values(
                    state="done",
                    status_code=answer.status_code,
                    content_type=answer.content_type,
                    body=answer.body,
                )
            )


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


def _problem(send: Send, status_code: int, message: str, kind: str) -> Awaitable[None]:
    if status_code == 422:
        detail: Any = [{"loc": ["header", HEADER], "msg": message, "type": kind}]
    else:
        detail = message
    return _respond(send, status_code, json.dumps({"detail": detail}).encode(), "application/json")


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
            stored = await claim(factory, request_scope, key, fingerprint)
        except Refused as refused:
            return await _problem(send, 409, str(refused), "conflict")
        if stored is not None:
            return await _respond(
                send, stored.status_code, stored.body, stored.content_type,
                **{"idempotent-replayed": "true"},
            )  # fmt: skip
        await self._run_once(scope, body, send, factory, request_scope, key)

    async def _run_once(
        self, scope: Scope, body: bytes, send: Send, factory: Any, request_scope: str, key: str
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
            await settle(factory, request_scope, key, kept)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
