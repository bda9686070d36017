"""Idempotent creation: the first request with a key wins, repeats get its resource.

The key row is inserted with ``ON CONFLICT DO NOTHING`` in the creating transaction:
a concurrent twin blocks on the unique index until the winner commits and then sees
its row, so twenty identical requests create one resource.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyRecord


def fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a key: new, a repeat of the same request, or a conflict."""

    resource_id: uuid.UUID
    is_new: bool
    same_request: bool


async def claim(
    session: AsyncSession, scope: str, key: str, request_fingerprint: str, resource_id: uuid.UUID
) -> Claim:
    inserted = await session.execute(
        insert(IdempotencyRecord)
        .values(scope=scope, key=key, fingerprint=request_fingerprint, resource_id=resource_id)
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.resource_id)
    )
    if inserted.scalar_one_or_none() is not None:
        return Claim(resource_id, is_new=True, same_request=True)
    existing = (
        await session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
    ).scalar_one()
    return Claim(
        existing.resource_id,
        is_new=False,
        same_request=existing.fingerprint == request_fingerprint,
    )
