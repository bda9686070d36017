"""What this worker process issued and rendered a moment ago, for the steps right after.

The contract's workflow bills, renders, mails, opens the receivable and registers the debit
as local steps of one workflow task, so all of them run in the same process one after the
other. Each step used to load the invoice again; with these caches it takes the rows the
step before produced. That is safe because an issued invoice and its documents never
change, and a value is only remembered after its transaction committed. A miss (another
process, a restart, an old entry pushed out) simply loads from the database.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from documents.model import InvoiceDoc

T = TypeVar("T")

# Concurrent workflow tasks per process are few (10 by default); 64 outlives every chain.
RECENT = 64


class Recent(Generic[T]):
    """The last ``size`` values by key; the oldest goes first."""

    def __init__(self, size: int = RECENT) -> None:
        self.size = size
        self._values: OrderedDict[str, T] = OrderedDict()

    def get(self, key: str) -> T | None:
        return self._values.get(key)

    def put(self, key: str, value: T) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.size:
            self._values.popitem(last=False)


@dataclass(frozen=True)
class Rendered:
    """An invoice's documents as rendered in this process."""

    invoice_id: int
    customer_id: uuid.UUID
    doc: InvoiceDoc
    paths: dict[str, Path]
    contents: dict[str, bytes]
    sha256: dict[str, str]
