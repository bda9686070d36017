"""The test stack: its own embedded Postgres, Temporal dev server (time skipping on) and SMTP
server on free ports, sharing nothing with ``make run`` and removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import TimeSkippingConfig, WorkflowEnvironment

from api.main import create_app
from cli import DEMO_CATALOG
from config import Settings
from db.catalog import load_catalog, read_catalog_file
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port
from devstack.smtp_sink import MailSink
from devstack.temporal import TIME_SKIPPING, temporal_cli
from temporal_client import DATA_CONVERTER
from tests.helpers import KEYS
from tests.platform import platform  # noqa: F401 - fixture for tests that provision
from worker import running_worker
from workflows import search_attributes


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="faktura-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(workdir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(workdir / "postgres", free_port(), fast_and_unsafe=True)
    server.start(workdir / "postgres.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    url = postgres.create_database("faktura_test")
    upgrade(url)
    return url


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        # Tests skip time explicitly per workflow; children (invoices with their dunning
        # timers) skip only when a test fast-forwards them directly.
        ts_config=TimeSkippingConfig(enabled=False, disable_propagation=True),
        dev_server_existing_path=temporal_cli(),
        dev_server_extra_args=TIME_SKIPPING,
        search_attributes=search_attributes.ALL,
        data_converter=DATA_CONVERTER,
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
def mail_sink(workdir: Path) -> Iterator[MailSink]:
    sink = MailSink(workdir / "mail", port=free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(
    database_url: str, temporal_env: WorkflowEnvironment, mail_sink: MailSink, workdir: Path
) -> Settings:
    """Settings of one test: its own task queue, so tests never pick up each other's work."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"test-{uuid.uuid4()}",
        smtp_port=mail_sink.port,
        api_keys_crm=[KEYS["crm"]],
        api_keys_support=[KEYS["support"]],
        api_keys_finance=[KEYS["finance"]],
        api_keys_admin=[KEYS["admin"]],
        archive_dir=workdir / "archive",
        workflow_sandbox=True,
        # The apps of many tests share one database, each on its own task queue: a relay in
        # the background would start another test's rows on its own queue, where no worker
        # polls. The tests call the relay (start_pending, relay_bookings) themselves.
        api_relay=False,
    )


@pytest_asyncio.fixture
async def session_factory(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url, pool_size=5)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest_asyncio.fixture
async def api(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan included) over ASGI, with the test's Temporal client."""
    app = create_app(settings, temporal_client=temporal_env.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://faktura") as client:
            yield client


@pytest_asyncio.fixture
async def worker(settings: Settings, temporal_env: WorkflowEnvironment):  # type: ignore[no-untyped-def]
    async with running_worker(settings, temporal_env.client) as running:
        yield running


@pytest_asyncio.fixture
async def catalog(session_factory):  # type: ignore[no-untyped-def]
    """The demo catalog in the test database (loading is idempotent)."""
    async with session_factory() as session, session.begin():
        await load_catalog(session, read_catalog_file(DEMO_CATALOG))
