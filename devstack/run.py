"""``make run``: the whole system on embedded defaults, in one terminal.

Starts Postgres, the Temporal dev server (with Web UI), an SMTP sink, migrates the
database, starts worker and API, loads demo data, prints where everything is, and on
Ctrl-C stops every child in reverse order. Data stays under ``var/`` for the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from config import PROJECT_ROOT
from db.migrate import upgrade
from devstack.children import spawn_api, spawn_smtp_sink, spawn_worker
from devstack.postgres import EmbeddedPostgres
from devstack.processes import port_open, stop, wait_until
from devstack.temporal import TemporalDevServer


class DevStack(BaseSettings):
    """Ports and paths of the local stack (``FAKTURA_DEV_*``)."""

    model_config = SettingsConfigDict(env_prefix="FAKTURA_DEV_", env_file=".env", extra="ignore")

    var_dir: Path = PROJECT_ROOT / "var"
    pg_port: int = 5432
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    smtp_port: int = 1025
    api_port: int = 8000
    load_demo_data: bool = True


class Supervisor:
    """Owns the children; stops them in reverse start order."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes], int]] = []

    def add(self, name: str, process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        self.children.append((name, process, sig))

    def check_alive(self) -> None:
        for name, process, _ in self.children:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}; see var/log/")

    def stop_all(self) -> None:
        for name, process, sig in reversed(self.children):
            print(f"  stopping {name} ...", flush=True)
            stop(process, sig)


def _child_env(stack: DevStack, postgres: EmbeddedPostgres) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FAKTURA_DATABASE_URL=postgres.url(),
        FAKTURA_TEMPORAL_ADDRESS=f"127.0.0.1:{stack.temporal_port}",
        FAKTURA_SMTP_HOST="127.0.0.1",
        FAKTURA_SMTP_PORT=str(stack.smtp_port),
        FAKTURA_ARCHIVE_DIR=str(stack.var_dir / "archive"),
        PYTHONUNBUFFERED="1",
    )
    return env


def _healthz(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())
    except OSError:
        return None


def _wait_healthy(url: str, supervisor: Supervisor, timeout: float = 60) -> None:
    def healthy() -> bool:
        supervisor.check_alive()
        body = _healthz(url)
        return body is not None and body.get("status") == "ok"

    wait_until(healthy, timeout=timeout, what="the API health check")


def start(stack: DevStack, supervisor: Supervisor) -> None:
    log_dir = stack.var_dir / "log"
    started = time.monotonic()

    postgres = EmbeddedPostgres(stack.var_dir / "postgres", stack.pg_port)
    postgres.start(log_dir / "postgres.log")
    supervisor.add("postgres", postgres.process, signal.SIGINT)  # type: ignore[arg-type]
    upgrade(postgres.url())

    temporal = TemporalDevServer(
        stack.var_dir / "temporal.sqlite", stack.temporal_port, stack.temporal_ui_port
    )
    temporal.start(log_dir / "temporal.log")
    supervisor.add("temporal", temporal.process)  # type: ignore[arg-type]

    if port_open("127.0.0.1", stack.smtp_port):
        raise RuntimeError(f"port {stack.smtp_port} is taken; set FAKTURA_DEV_SMTP_PORT")
    env = _child_env(stack, postgres)
    mail_dir = stack.var_dir / "mail"
    sink = spawn_smtp_sink(stack.smtp_port, mail_dir, log_dir / "smtp.log", env)
    supervisor.add("smtp sink", sink)

    worker = spawn_worker(log_dir / "worker.log", env, PROJECT_ROOT)
    supervisor.add("worker", worker, signal.SIGINT)
    api = spawn_api(stack.api_port, log_dir / "api.log", env, PROJECT_ROOT)
    supervisor.add("api", api)
    api_url = f"http://127.0.0.1:{stack.api_port}"
    _wait_healthy(f"{api_url}/healthz", supervisor)

    if stack.load_demo_data:
        subprocess.run(
            [sys.executable, "-m", "cli", "demo", "load", "--api", api_url],
            check=True,
            env=env,
            cwd=PROJECT_ROOT,
        )

    print(
        f"""
faktura is up ({time.monotonic() - started:.0f} s). Ctrl-C stops everything.

  API            {api_url}            (OpenAPI: {api_url}/docs, health: {api_url}/healthz)
  Temporal UI    http://127.0.0.1:{stack.temporal_ui_port}
  Temporal gRPC  127.0.0.1:{stack.temporal_port}           (SQLite: {temporal.db_file})
  Postgres       {postgres.url()}
  SMTP sink      127.0.0.1:{stack.smtp_port}           (mails: {mail_dir}/*.eml, `faktura mails`)
  Logs           {log_dir}/
  Dev API keys   crm=dev-crm-key support=dev-support-key finance=dev-finance-key admin=dev-admin-key
""",
        flush=True,
    )


def main() -> None:
    stack = DevStack()
    supervisor = Supervisor()
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)  # also when started with SIGINT ignored
    exit_code = 0
    try:
        start(stack, supervisor)
        while True:
            supervisor.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping faktura ...", flush=True)
    except Exception as error:  # noqa: BLE001 - report and tear down whatever started
        print(f"\nfaktura could not run: {error}", file=sys.stderr, flush=True)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()
        print("all parts stopped.", flush=True)
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
