"""The document archive on disk: files written once, atomically and durably.

A file's row (invoice document, SEPA file, print batch, dunning letter) commits after the
file is written, and Postgres flushes its commit to disk. So the file is flushed first
too: its bytes, then its directory entry. Without that, a power loss could leave a row
naming an empty or missing file, and GoBD requires the archive to hold what the books say.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


def write_once(path: Path, content: bytes) -> None:
    """Write atomically and durably; an existing file with other content is never replaced."""
    if path.exists():
        if path.read_bytes() != content:
            raise RuntimeError(f"{path} exists with other content; archived files never change")
        return
    new_folder = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    with temporary.open("wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _flush_directory(path.parent)
    if new_folder:  # the month's folder itself is a new entry in its parent
        _flush_directory(path.parent.parent)


async def write_all_once(files: dict[Path, bytes]) -> None:
    """``write_once`` for each file, in a thread: flushing waits on the disk, and the
    worker's event loop runs every workflow task and local step meanwhile."""
    await asyncio.to_thread(lambda: [write_once(path, content) for path, content in files.items()])


def _flush_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
