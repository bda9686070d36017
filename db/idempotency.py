"""Idempotent creation: the first request with a key wins, repeats get its resource.

The key row is inserted with ``ON CONFLICT DO NOTHING`` in the creating transaction:
a concurrent twin blocks on the unique index until the winner commits and then sees
its row, so twenty identical requests create one resource. Plain SQL on the driver
(db/driver.py): it runs in every create.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.driver import insert_row
from db.models import IdempotencyRecord

# A creation claims its CRM reference for good and its Idempotency-Key, if any, for the
# key window only (db/retention.py): the two share the table, told apart by the prefix.
CRM_REFERENCE_CLAIM = "crm:"
IDEMPOTENCY_KEY_CLAIM = "key:"


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
    db: asyncpg.Connection, scope: str, key: str, request_fingerprint: str, resource_id: uuid.UUID
) -> Claim:
    record = IdempotencyRecord(
        scope=scope, key=key, fingerprint=request_fingerprint, resource_id=resource_id
    )
    if await insert_row(db, record, skip_conflicts=True):
        return Claim(resource_id, is_new=True, same_request=True)
    existing = await db.fetchrow(
        "SELECT resource_id, fingerprint FROM idempotency_record WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    return Claim(
        existing["resource_id"],
        is_new=False,
        same_request=existing["fingerprint"] == request_fingerprint,
    )
