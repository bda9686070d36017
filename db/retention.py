"""Rows that outlive their purpose are deleted; the books are not.

- ``idempotent_request``: the stored answer to an ``Idempotency-Key``. A client retries
  within minutes or hours; after the window (``Settings.idempotency_window_days``) the
  key is forgotten and a request with it is new. Stripe keeps keys for 24 hours.
- ``collection_start`` rows that are no longer pending: a settled row keeps the invoice
  workflow's input for a late return debit, and a SEPA Core debit can be reclaimed for
  13 months when it was not authorised. After ``COLLECTION_START_DAYS`` no return can come.

- ``idempotency_record`` claims of an ``Idempotency-Key`` on a creation, after the same
  window: the key is then new on these routes as on every other.

Invoices, their lines and documents, payments, mails, debits and bank lines are the books
(GoBD: 8 to 10 years) and are never deleted here. The claims on a CRM reference
(``idempotency_record``) are kept too: they keep a contract from being created twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from db.idempotency import IDEMPOTENCY_KEY_CLAIM

COLLECTION_START_DAYS = timedelta(days=400)
BATCH = 5_000  # rows per statement: short transactions, no long lock on a busy table


# Each deletes one batch of expired rows: those made (or last changed) before $1, at most $2.
IDEMPOTENT_REQUESTS = (  # stored answers to Idempotency-Keys
    "DELETE FROM idempotent_request WHERE (scope, key) IN (SELECT scope, key"
    " FROM idempotent_request WHERE created_at < $1 LIMIT $2)"
)
CREATION_KEYS = (  # a creation's claim of its Idempotency-Key (not of its CRM reference)
    "DELETE FROM idempotency_record WHERE (scope, key) IN (SELECT scope, key"
    f" FROM idempotency_record WHERE key LIKE '{IDEMPOTENCY_KEY_CLAIM}%'"
    " AND created_at < $1 LIMIT $2)"
)
COLLECTION_STARTS = (  # started or settled rows; a pending one is never deleted
    "DELETE FROM collection_start WHERE invoice_number IN (SELECT invoice_number"
    " FROM collection_start WHERE state <> 'pending' AND updated_at < $1 LIMIT $2)"
)


async def delete_batch(db: asyncpg.Connection, statement: str, before: datetime) -> int:
    """Run one of the statements above; returns how many rows went."""
    status = await db.execute(statement, before, BATCH)  # "DELETE <count>"
    return int(status.split()[-1])
