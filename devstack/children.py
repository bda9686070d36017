"""The faktura processes a stack starts: SMTP sink, worker, API. One place for their
command lines, shared by `make run` (devstack/run.py), the benchmark and fault-injection
stack (devstack/stack.py), the API load benchmark and the fuzzing test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from config import PROJECT_ROOT
from devstack.processes import port_open, spawn, wait_until


def spawn_smtp_sink(
    port: int, mail_dir: Path, log_file: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The sink, ready to accept connections when this returns."""
    sink = spawn(
        [sys.executable, "-m", "devstack.smtp_sink", "--port", str(port), "--dir", str(mail_dir)],
        log_file=log_file,
        env=env,
        cwd=PROJECT_ROOT,
    )
    wait_until(lambda: port_open("127.0.0.1", port), timeout=15, what="SMTP sink")
    return sink


def spawn_worker(log_file: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """A worker process; ``cwd`` decides which .env file (if any) it reads."""
    return spawn(
        [sys.executable, str(PROJECT_ROOT / "worker.py")], log_file=log_file, env=env, cwd=cwd
    )


def spawn_api(
    port: int, log_file: Path, env: dict[str, str], cwd: Path, extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """uvicorn with the app factory on 127.0.0.1:``port``."""
    return spawn(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_server_app",
         "--host", "127.0.0.1", "--port", str(port), *extra],
        log_file=log_file,
        env=env,
        cwd=cwd,
    )  # fmt: skip
