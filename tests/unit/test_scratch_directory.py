"""A benchmark's working directory goes after a run that went through, and stays for its
logs after a failure or when asked to."""

from __future__ import annotations

import pytest

from devstack.scratch import scratch_directory


def test_removed_after_a_run_that_went_through() -> None:
    with scratch_directory("faktura-scratch-test-") as work:
        (work / "pg").mkdir()
        (work / "pg" / "data").write_bytes(b"x" * 100)
    assert not work.exists()


def test_kept_after_a_failure_with_its_path_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), scratch_directory("faktura-scratch-test-") as work:
        (work / "worker.log").write_text("Traceback ...")
        raise RuntimeError("the chain stalled")
    assert (work / "worker.log").read_text() == "Traceback ..."
    assert str(work) in capsys.readouterr().err
    (work / "worker.log").unlink()
    work.rmdir()


def test_kept_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    with scratch_directory("faktura-scratch-test-", keep=True) as work:
        (work / "temporal.log").write_text("ok")
    assert (work / "temporal.log").exists()
    assert str(work) in capsys.readouterr().out
    (work / "temporal.log").unlink()
    work.rmdir()
