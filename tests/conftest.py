"""Shared fixtures: a time-skipping Temporal test server, a store, and a journey worker."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.api.scopes import Scope
from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.api import Api
from tests.helpers.crm import CrmWebhook
from tests.helpers.databases import postgres_database
from tests.helpers.devstack import Stack, dev_stack
from tests.helpers.paths import SCENARIOS
from tests.helpers.temporal import test_server_path


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test (it boots in ~0.1 s): no test shares a clock."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=test_server_path(),
    )
    await search_attributes.register(environment.client)
    yield environment
    await environment.shutdown()


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite by default; store tests override this with both engines."""
    return f"sqlite:///{tmp_path}/nurture.db"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        scenarios_dir=SCENARIOS,
        outbox_dir=tmp_path / "outbox",
        task_queue=f"nurture-test-{uuid.uuid4().hex[:8]}",
        secret_key="test-secret",
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings.database_url)
    store.upgrade()
    yield store
    store.engine.dispose()


@pytest_asyncio.fixture
async def worker(client: Client, settings: Settings, store: Store) -> AsyncIterator[Worker]:
    worker = build_worker(client, settings, store)
    async with worker:
        yield worker


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on real SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nurture.db"
    else:
        yield from postgres_database()


@pytest.fixture
def any_store(any_database_url: str) -> Iterator[Store]:
    """A migrated store on each engine (SQLite and PostgreSQL)."""
    store = Store(any_database_url)
    store.upgrade()
    yield store
    store.engine.dispose()


@pytest_asyncio.fixture
async def api(client: Client, settings: Settings, store: Store) -> AsyncIterator[Api]:
    settings.temporal_address = client.service_client.config.target_host
    app = create_app(settings, relay=False)  # tests run the relay themselves, step by step
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nurture") as http:

            def key(name: str, scope: Scope) -> dict[str, str]:
                return {"Authorization": f"Bearer {create_api_key(store, name, [scope])}"}

            yield Api(
                http,
                ingest=key("tracker", "ingest"),
                admin=key("ops", "admin"),
                leads=key("crm", "leads"),
                feedback=key("sales", "feedback"),
                read=key("dashboard", "read"),
            )


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """End the run without interpreter finalisation: the Temporal SDK's native threads can
    call into Python while it shuts down and abort the process (exit -6) after every test
    passed, failing CI for nothing. The report is already printed; keep its exit status."""
    if _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """A Temporal dev server (visibility, batch operations), a store, an acme copy."""
    async with dev_stack(tmp_path) as running:
        yield running


@pytest.fixture
def crm(settings: Settings) -> Iterator[CrmWebhook]:
    """A local CRM the journeys post their hand-offs to, signed with a known secret."""
    receiver = CrmWebhook()
    settings.handoff_webhook_url = receiver.url
    settings.handoff_webhook_secret = "crm-secret"
    yield receiver
    receiver.close()
