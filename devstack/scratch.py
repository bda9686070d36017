"""A benchmark's working directory: its databases, logs and mails (~1.3 GB for the
6,000-invoice day). Removed after a run that went through, so repeated runs do not fill the
disk; kept after a failure (or on request) for its logs, with its path printed."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_directory(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh directory for one run; whatever ran in it must have stopped when the block
    ends (Postgres, Temporal, workers)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    except BaseException:
        print(f"\nthe run's files (logs) are kept in {path}", file=sys.stderr)
        raise
    if keep:
        print(f"the run's files are kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A throw-away embedded Postgres with the schema migrated, for a benchmark of the
    database alone; yields the database's URL."""
    from db.migrate import upgrade  # the devstack's other users need no Alembic
    from devstack.postgres import EmbeddedPostgres
    from devstack.processes import free_port

    with scratch_directory(prefix) as work:
        postgres = EmbeddedPostgres(work / "postgres", free_port(), fast_and_unsafe=True)
        postgres.start(work / "postgres.log")
        try:
            url = postgres.create_database("bench")
            upgrade(url)
            yield url
        finally:
            postgres.stop()
