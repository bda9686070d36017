"""The API's background relay: it delivers, every few seconds, what its requests committed
but could not pass on to Temporal (down, slow, or the process gone in between): contract
workflows still to start (api/workflow_starts.py), the workflows of credit notes
(api/credit_note_starts.py), cancellations Temporal was not there to take
(api/cancellations.py), and bank bookings their invoice's
workflow has not heard of (db/booking_notices.py); and first the Idempotency-Keys an
outage kept their requests from settling (api/idempotency.py). Rows younger than
LEFT_AFTER belong to the request that wrote them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api import cancellations, credit_note_starts
from api.idempotency import settle_left_over
from api.workflow_starts import LEFT_AFTER, start_pending
from outages import unavailable_service
from temporal_client import relay_bookings

log = logging.getLogger("faktura.relay")
RELAY_INTERVAL_SECONDS = 2.0


async def relay_forever(state: Any, interval: float = RELAY_INTERVAL_SECONDS) -> None:
    while True:
        try:
            await settle_left_over(state.session_factory, state.unsettled_keys)
            await start_pending(state, older_than=LEFT_AFTER)
            await credit_note_starts.start_left_over(state, older_than=LEFT_AFTER)
            await cancellations.deliver_left_over(state, older_than=LEFT_AFTER)
            await relay_bookings(
                state.temporal, state.settings.temporal_task_queue, state.session_factory,
                older_than=LEFT_AFTER,
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - the relay must survive DB hiccups
            service = unavailable_service(error)
            if service:  # one line every round of an outage, not a traceback
                log.warning("relay waits: %s is unavailable", service)
            else:
                log.exception("relay failed; retrying")
        await asyncio.sleep(interval)
