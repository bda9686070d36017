"""After a relay's round over an outbox table (``booking_notice``, ``credit_note_start``):
the rows passed on are deleted, and those that failed for a reason of their own count the
failure (``attempts``, ``last_error``) and stay. Built from the model, as ``insert_row`` is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg
from sqlmodel import SQLModel


async def settle_outbox(
    db: asyncpg.Connection,
    model: type[SQLModel],
    done: Sequence[str],
    failed: Mapping[str, str],
) -> None:
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = table.primary_key.columns
    if done:
        await db.execute(f"DELETE FROM {table.name} WHERE {key.name} = ANY($1::text[])", done)
    if failed:
        await db.execute(
            f"UPDATE {table.name} t SET attempts = t.attempts + 1, last_error = f.error"
            " FROM unnest($1::text[], $2::text[]) AS f(key, error)"
            f" WHERE t.{key.name} = f.key",
            list(failed), list(failed.values()),
        )  # fmt: skip
