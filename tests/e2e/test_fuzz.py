"""Schemathesis against the live API (uvicorn in its own process, its own database): every
operation of the OpenAPI document with generated requests under each role's key. No answer
may be a 5xx; every refusal is a 4xx that says why."""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from temporalio.testing import WorkflowEnvironment

from cli import DEMO_CATALOG
from db.catalog import read_catalog_file
from db.migrate import upgrade
from devstack.children import spawn_api, spawn_worker
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port, port_open, stop, wait_until

ROLES = {  # the built-in development keys (config.py) of each role
    "crm": "dev-crm-key",
    "support": "dev-support-key",
    "finance": "dev-finance-key",
    "admin": "dev-admin-key",
}
EXAMPLES_PER_OPERATION_AND_ROLE = 12
MINIMUM_REQUESTS = 1000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_api(
    postgres: EmbeddedPostgres, temporal_env: WorkflowEnvironment, tmp_path_factory
) -> Iterator[str]:  # noqa: ANN001
    url = postgres.create_database("faktura_fuzz")
    upgrade(url)
    port = free_port()
    work = tmp_path_factory.mktemp("fuzz")
    env = {
        **os.environ,
        "FAKTURA_DATABASE_URL": url,
        "FAKTURA_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "FAKTURA_TEMPORAL_TASK_QUEUE": "fuzz",  # its own queue, served by the worker below
        "FAKTURA_ARCHIVE_DIR": str(work / "archive"),
    }
    process = spawn_api(port, work / "api.log", env, work, ["--log-level", "warning"])
    # a worker polls the queue, so /healthz is "ok" (it answers 503 when one is missing)
    worker = spawn_worker(work / "worker.log", env, work)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: port_open("127.0.0.1", port), timeout=30, what="the API")
        catalog = read_catalog_file(DEMO_CATALOG).model_dump(mode="json")
        loaded = httpx.post(f"{base}/v1/admin/catalog", json=catalog,
                            headers={"Authorization": f"Bearer {ROLES['admin']}"}, timeout=30)  # fmt: skip
        assert loaded.status_code == 200, loaded.text
        yield base
    finally:
        stop(worker)
        stop(process)
        if process.returncode not in (0, -15):
            print(Path(work / "api.log").read_text()[-3000:])


def test_generated_requests_under_every_role_get_no_server_error(live_api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    session = requests.Session()
    answers: collections.Counter[int] = collections.Counter()
    failures: list[str] = []

    def exercise(operation, key: str):  # type: ignore[no-untyped-def]  # noqa: ANN001
        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION_AND_ROLE, deadline=None, database=None,
            derandomize=True,  # the same requests on every run: a CI failure reproduces
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        def one(case: schemathesis.Case) -> None:
            response = case.call(
                base_url=live_api, session=session, timeout=30,
                headers={"Authorization": f"Bearer {key}"},
            )  # fmt: skip
            answers[response.status_code] += 1
            where = f"{case.method} {case.formatted_path}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code} {response.text[:300]} <- "
                                f"{case.as_curl_command()[:600]}")  # fmt: skip
            elif response.status_code >= 400:
                reason = response.json().get("detail") if _is_json(response) else None
                if not reason:
                    failures.append(f"{where}: {response.status_code} without a reason")

        return one

    for result in schema.get_all_operations():
        for key in ROLES.values():
            exercise(result.ok(), key)()

    print(
        f"\nschemathesis: {sum(answers.values())} requests, answers {dict(sorted(answers.items()))}"
    )
    assert not failures, "\n".join(failures[:20])
    assert sum(answers.values()) >= MINIMUM_REQUESTS
    assert not any(code >= 500 for code in answers)


def _is_json(response: Any) -> bool:
    """Schemathesis' response keeps each header as a list of values."""
    value = response.headers.get("content-type") or [""]
    return (value[0] if isinstance(value, list) else value).startswith("application/json")
