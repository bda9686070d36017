"""Idempotent creation for the CRM: the CRM reference (and an optional Idempotency-Key)
claim the request; the same body again gets the first result, another body a 409."""

from __future__ import annotations

import uuid

import asyncpg

from api.errors import conflict
from db.idempotency import CRM_REFERENCE_CLAIM, IDEMPOTENCY_KEY_CLAIM, Claim, claim


async def claim_creation(
    db: asyncpg.Connection,
    scope: str,
    crm_reference: str,
    idempotency_key: str | None,
    request_fingerprint: str,
) -> Claim:
    """Claim inside the creating transaction; raises 409 for a reused reference or key."""
    got = await claim(
        db, scope, CRM_REFERENCE_CLAIM + crm_reference, request_fingerprint, uuid.uuid4()
    )
    if got.is_new and idempotency_key:
        keyed = await claim(
            db, scope, IDEMPOTENCY_KEY_CLAIM + idempotency_key, request_fingerprint, got.resource_id
        )
        if not keyed.is_new:
            raise conflict(f"Idempotency-Key was used for another {scope}")
    if not got.same_request:
        raise conflict(f"{scope} {crm_reference} exists with other data")
    return got
