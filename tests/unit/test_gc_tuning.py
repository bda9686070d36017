"""The API's and the worker's processes tune the cycle collector once start-up is done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from config import GC_THRESHOLDS, PROJECT_ROOT


def test_the_api_server_factory_freezes_start_up_and_raises_the_thresholds(
    tmp_path: Path,
) -> None:
    probe = (
        "import gc; from api.main import create_server_app; create_server_app();"
        " print(gc.get_threshold(), gc.get_freeze_count() > 10_000)"
    )
    shown = subprocess.run(  # a process of its own: the test's collector stays as it is
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": ""}, check=True,
    ).stdout.strip()  # fmt: skip
    assert shown == f"{GC_THRESHOLDS} True"
