"""Archived files are written once, atomically and durably (activities/archive.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from activities import archive


@pytest.fixture
def flushed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths flushed to disk, in order (a file by the name it had when flushed)."""
    paths: list[str] = []
    fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        fsync(descriptor)

    monkeypatch.setattr(archive.os, "fsync", recording_fsync)
    return paths


def test_the_file_and_its_directory_entries_reach_the_disk(
    tmp_path: Path, flushed: list[str]
) -> None:
    month = tmp_path / "invoices" / "2026" / "11"
    archive.write_once(month / "R-1.pdf", b"%PDF one")
    # the bytes under the temporary name, then the month's folder, then each new folder's
    # parent, deepest first
    assert flushed == [
        f"{month}/R-1.pdf.{os.getpid()}.tmp",
        str(month),
        str(month.parent),
        str(month.parent.parent),
        str(tmp_path),
    ]
    flushed.clear()
    archive.write_once(month / "R-2.pdf", b"%PDF two")
    assert flushed == [f"{month}/R-2.pdf.{os.getpid()}.tmp", str(month)]
    assert sorted(p.name for p in month.iterdir()) == ["R-1.pdf", "R-2.pdf"]


def test_a_file_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "R-1.xml"
    archive.write_once(path, b"<a/>")
    archive.write_once(path, b"<a/>")  # a retry with the same bytes: nothing to do
    with pytest.raises(RuntimeError, match="never change"):
        archive.write_once(path, b"<b/>")
    assert path.read_bytes() == b"<a/>"


def test_several_files_flush_their_directory_once(tmp_path: Path, flushed: list[str]) -> None:
    archive.write_all_once({tmp_path / "a.pdf": b"a", tmp_path / "a.xml": b"x"})
    pid = os.getpid()
    assert flushed == [f"{tmp_path}/a.pdf.{pid}.tmp", f"{tmp_path}/a.xml.{pid}.tmp", str(tmp_path)]
    assert (tmp_path / "a.pdf").read_bytes() == b"a"
    assert (tmp_path / "a.xml").read_bytes() == b"x"


async def test_the_invoice_path_writes_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    write = archive.write_all_once

    def recording(files: dict[Path, bytes]) -> None:
        threads.append(threading.current_thread())
        write(files)

    monkeypatch.setattr(archive, "write_all_once", recording)
    await archive.archive_files({tmp_path / "b.pdf": b"b"})
    assert threads and threads[0] is not threading.main_thread()
    assert (tmp_path / "b.pdf").read_bytes() == b"b"


def test_a_folder_another_worker_makes_meanwhile_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    month = tmp_path / "2026" / "12"
    takewhile = archive.itertools.takewhile

    def then_the_other_worker(*args: object) -> list[Path]:
        made = list(takewhile(*args))  # type: ignore[arg-type]
        month.mkdir(parents=True)  # the other worker's first invoice of the month
        return made

    monkeypatch.setattr(archive.itertools, "takewhile", then_the_other_worker)
    archive.write_once(month / "R-9.pdf", b"%PDF")
    assert (month / "R-9.pdf").read_bytes() == b"%PDF"
