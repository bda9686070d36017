"""`make run`'s supervisor for real: every part comes up with demo data, /healthz is green,
the Temporal UI answers, Ctrl-C leaves no process behind, and a second start reuses the data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from config import PROJECT_ROOT
from devstack.processes import free_port


def start_stack(var_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FAKTURA_DEV_VAR_DIR": str(var_dir),
        "FAKTURA_DEV_PG_PORT": str(ports["pg"]),
        "FAKTURA_DEV_TEMPORAL_PORT": str(ports["temporal"]),
        "FAKTURA_DEV_TEMPORAL_UI_PORT": str(ports["ui"]),
        "FAKTURA_DEV_SMTP_PORT": str(ports["smtp"]),
        "FAKTURA_DEV_API_PORT": str(ports["api"]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "devstack.run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_banner(process: subprocess.Popen[str], timeout: float = 90) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if "Dev API keys" in line:  # the last line of the banner
            return "".join(seen)
    raise AssertionError("the stack did not come up:\n" + "".join(seen))


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def stop_and_check_no_orphans(process: subprocess.Popen[str]) -> str:
    if process.poll() is not None:
        raise AssertionError(f"the stack stopped by itself:\n{process.communicate()[0]}")
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 5  # postgres, temporal, smtp sink, worker, api (and their children)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"orphans: {alive}"
    return output


def test_make_run_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("pg", "temporal", "ui", "smtp", "api")}
    first = start_stack(tmp_path / "var", ports)
    try:
        banner = wait_for_banner(first)
        assert f"http://127.0.0.1:{ports['ui']}" in banner
        status, body = get(f"http://127.0.0.1:{ports['api']}/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert get(f"http://127.0.0.1:{ports['ui']}/")[0] == 200
        assert get(f"http://127.0.0.1:{ports['api']}/docs")[0] == 200
    finally:
        output = stop_and_check_no_orphans(first)
    assert "all parts stopped" in output
    assert (tmp_path / "var" / "temporal.sqlite").exists()

    second = start_stack(tmp_path / "var", ports)  # same data: demo load finds it all
    try:
        wait_for_banner(second)
        request = urllib.request.Request(
            f"http://127.0.0.1:{ports['api']}/v1/catalog",
            headers={"Authorization": "Bearer dev-crm-key"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert any(p["code"] == "domain-de" for p in json.loads(response.read())["products"])
    finally:
        stop_and_check_no_orphans(second)
