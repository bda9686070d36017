"""The document archive on disk: files written once, atomically and durably.

A file's row (invoice document, SEPA file, print batch, dunning letter) commits after the
file is written, and Postgres flushes its commit to disk. So the file is flushed first
too: its bytes, then its directory entry. Without that, a power loss could leave a row
naming an empty or missing file, and GoBD requires the archive to hold what the books say.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from pathlib import Path


def write_once(path: Path, content: bytes) -> None:
    """Write atomically and durably; an existing file with other content is never replaced."""
    write_all_once({path: content})


def write_all_once(files: dict[Path, bytes]) -> None:
    """``write_once`` for each file; each directory is flushed once, after its files."""
    folders: set[Path] = set()
    for path, content in files.items():
        if path.exists():
            if path.read_bytes() != content:
                raise RuntimeError(f"{path} exists with other content; archived files never change")
            continue
        # Each folder made here (the month's, on its first day) is a new entry in its parent.
        made = list(itertools.takewhile(lambda folder: not folder.exists(), path.parents))
        path.parent.mkdir(parents=True, exist_ok=True)  # another worker may make it too
        folders.update(folder.parent for folder in made)
        temporary = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        with temporary.open("wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        folders.add(path.parent)
    for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
        _flush_directory(folder)


async def archive_files(files: dict[Path, bytes]) -> None:
    """``write_all_once`` in a thread: a flush waits on the disk, and the worker's event
    loop runs every workflow task and local step meanwhile."""
    await asyncio.to_thread(write_all_once, files)


def _flush_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class ArchiveFileWriter:
    """A large archive file (a month's DATEV batch) written in parts under a temporary name.

    ``keep`` flushes it and puts it in place, durably, as ``write_once`` does. Unlike
    ``write_once`` it replaces a file already there: only a run that has not committed
    the file's row yet may call it, so what it replaces is what an earlier attempt wrote
    before it failed, which no row names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._made = list(itertools.takewhile(lambda folder: not folder.exists(), path.parents))
        path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        self._file = self._temporary.open("wb")
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)

    def keep(self) -> str:
        """Flush, rename into place and flush the folder(s); the file's SHA-256."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temporary, self.path)
        folders = {self.path.parent, *(folder.parent for folder in self._made)}
        for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
            _flush_directory(folder)
        return self._hash.hexdigest()

    def discard(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)
