"""A Temporal dev server with a store and a copy of the acme scenario: for what the
time-skipping server cannot do (visibility queries, bulk operations)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from nurture.cli.devstack import DevServer, connect_ready
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.rollout.queries import journeys_query
from nurture.scenario.loader import load_scenario_dir
from nurture.store.engine import LeadIn, Store
from tests.helpers.paths import CONSENT, SCENARIOS
from tests.helpers.processes import dev_server_on_free_ports, until


@dataclass
class Stack:
    server: DevServer
    settings: Settings
    store: Store
    client: Client
    folder: Path  # the acme scenario's folder, to edit


@asynccontextmanager
async def dev_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    folder = tmp_path / "scenarios" / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    server = await dev_server_on_free_ports(tmp_path / "temporal")
    settings = Settings(
        temporal_address=server.address,
        database_url=f"sqlite:///{tmp_path}/nurture.db",
        scenarios_dir=folder.parent,
        outbox_dir=tmp_path / "outbox",
        task_queue="stack",
        # These tests are about visibility, rollouts and batch operations, not replay (the
        # time-skipping suite runs again with the cache off): with the cache off, twelve
        # journeys on the dev server did not all show in visibility within a minute (not
        # understood yet; noted on issue 14).
        worker_max_cached_workflows=10_000,
    )
    store = Store(settings.database_url)
    store.upgrade()
    stack = None
    try:
        stack = Stack(server, settings, store, await connect_ready(settings), folder)
        yield stack
    finally:
        store.engine.dispose()
        server.stop()
        if stack is not None and stack.server is not server:
            stack.server.stop()  # a test restarted the server: stop the one running now


async def journeys_shown(stack: Stack, count: int, where: str = "") -> None:
    """Wait (bounded) until visibility shows `count` running acme journeys matching `where`."""
    query = journeys_query("acme", where or None)

    async def shown() -> bool:
        return (await stack.client.count_workflows(query)).count == count

    await until(shown, timeout=60)


async def start_leads(stack: Stack, count: int) -> str:
    """`count` journeys on the acme scenario as it is now, shown by visibility; its version."""
    for i in range(count):
        lead, _ = stack.store.upsert_lead(
            LeadIn(email=f"lead{i}@example.com", first_name=f"L{i}", consent=CONSENT)
        )
        await start_journey(stack.client, stack.settings, stack.store, lead, "acme")
    version = load_scenario_dir(stack.folder).version
    await journeys_shown(stack, count, f'ScenarioVersion = "{version}"')
    return version
