"""The whole back end as separate processes in one directory, for the benchmark and the
fault-injection run: embedded Postgres, the Temporal dev server (SQLite), an SMTP sink and
K worker processes. Every part can be stopped, killed and started again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from config import Settings
from devstack.children import spawn_smtp_sink, spawn_worker
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port, stop
from devstack.temporal import TemporalDevServer


@dataclass
class Stack:
    work: Path
    workers: int = 1
    count_statements: bool = False  # load pg_stat_statements (the benchmark's --statements)
    postgres: EmbeddedPostgres = field(init=False)
    temporal: TemporalDevServer = field(init=False)
    smtp_port: int = field(init=False)
    sink: subprocess.Popen[bytes] | None = field(default=None, init=False)
    worker_processes: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)
    worker_cpu_gone: float = field(default=0.0, init=False)  # CPU of workers killed before

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        preload = ("pg_stat_statements",) if self.count_statements else ()
        self.postgres = EmbeddedPostgres(self.work / "pg", free_port(), preload=preload)
        self.temporal = TemporalDevServer(self.work / "temporal.sqlite", free_port(), free_port())
        self.smtp_port = free_port()

    # ------------------------------------------------------------------ settings

    def env(self) -> dict[str, str]:
        """What a worker process reads (pydantic-settings, prefix FAKTURA_)."""
        return {
            "FAKTURA_DATABASE_URL": self.postgres.url(),
            "FAKTURA_DB_POOL_SIZE": "20",
            "FAKTURA_TEMPORAL_ADDRESS": self.temporal.address,
            "FAKTURA_SMTP_PORT": str(self.smtp_port),
            "FAKTURA_SMTP_TIMEOUT_SECONDS": "5",
            "FAKTURA_ARCHIVE_DIR": str(self.work / "archive"),
        }

    def settings(self) -> Settings:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=self.postgres.url(),
            temporal_address=self.temporal.address,
            smtp_port=self.smtp_port,
            archive_dir=self.work / "archive",
            db_pool_size=20,
        )

    # ------------------------------------------------------------------ parts

    def start(self) -> None:
        from db.migrate import upgrade

        self.start_postgres()
        upgrade(self.postgres.url())
        self.temporal.start(self.work / "temporal.log")
        self.start_smtp()

    def start_postgres(self) -> None:
        self.postgres.start(self.work / "pg.log")

    def stop_postgres(self) -> None:
        self.postgres.stop()

    def restart_temporal(self) -> None:
        self.temporal.stop()
        self.temporal.start(self.work / "temporal.log")

    def start_smtp(self) -> None:
        self.sink = spawn_smtp_sink(self.smtp_port, self.work / "mail", self.work / "smtp.log")

    def stop_smtp(self) -> None:
        if self.sink is not None:
            stop(self.sink)
            self.sink = None

    def start_workers(self) -> None:
        for _ in range(self.workers):
            self.worker_processes.append(self._spawn_worker())

    def _spawn_worker(self) -> subprocess.Popen[bytes]:
        # cwd: not the checkout, so no developer's .env file is read
        return spawn_worker(self.work / "worker.log", {**os.environ, **self.env()}, self.work)

    def kill_worker(self, index: int = 0) -> None:
        """SIGKILL: no shutdown code runs; a fresh process takes its place."""
        process = self.worker_processes[index]
        self.worker_cpu_gone += cpu_seconds(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        self.worker_processes[index] = self._spawn_worker()

    def stop(self) -> None:
        for process in self.worker_processes:
            stop(process)
        self.stop_smtp()
        self.temporal.stop()
        self.postgres.stop()

    # ------------------------------------------------------------------ figures

    def pids(self) -> dict[str, list[int]]:
        return {
            "worker": [p.pid for p in self.worker_processes],
            "temporal": [self.temporal.process.pid] if self.temporal.process else [],
            "postgres": [self.postgres.process.pid] if self.postgres.process else [],
            "smtp sink": [self.sink.pid] if self.sink else [],
        }


def cpu_seconds(pid: int) -> float:
    """CPU of a process and all its children, finished ones (Postgres backends) included."""
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def memory_mb(pid: int) -> float:
    """Proportional set size (shared pages split among their users) of a process and its
    children, in MB: Postgres backends share the buffer cache, so RSS would count it often."""
    total = 0.0
    try:
        process = psutil.Process(pid)
        for part in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += part.memory_full_info().pss
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return total / 2**20
