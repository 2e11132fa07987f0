"""Temporal stops mid-stream: the API keeps answering 2xx, and every accepted event reaches
its journey once the dev server is back (real `temporal server start-dev`, stopped and
restarted on the same data file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.cli.devstack import connect_ready, start_dev_server
from nurture.config import Settings
from nurture.journey.contract import JourneyState
from nurture.store.engine import Store
from nurture.store.models import EventDelivery
from nurture.worker_setup import build_worker
from tests.helpers.api import LEAD
from tests.helpers.paths import SCENARIOS
from tests.helpers.processes import free_port, until


def pending(store: Store) -> int:
    with store.session() as session:
        query = (
            select(func.count())
            .select_from(EventDelivery)
            .where(EventDelivery.delivered_at.is_(None))
        )
        return session.scalar(query) or 0


async def events_seen(http: httpx.AsyncClient, admin: dict[str, str], lead_id: str) -> int:
    view = (await http.get(f"/v1/leads/{lead_id}", headers=admin)).json()
    state = view["journeys"].get("acme")
    if not isinstance(state, dict):
        return -1  # unreachable right now
    return sum(e.kind == "event" for e in JourneyState.model_validate(state).timeline)


async def test_events_accepted_during_an_outage_arrive_after_restart(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    data = tmp_path / "temporal"
    server = await start_dev_server(data, port=port, ui_port=ui_port)
    settings = Settings(
        temporal_address=server.address,
        database_url=f"sqlite:///{tmp_path}/nurture.db",
        scenarios_dir=SCENARIOS,
        outbox_dir=tmp_path / "outbox",
        task_queue="outage",
    )
    store = Store(settings.database_url)
    store.upgrade()
    ingest = {"Authorization": f"Bearer {create_api_key(store, 't', ['ingest'])}"}
    admin = {"Authorization": f"Bearer {create_api_key(store, 'a', ['admin'])}"}
    worker = build_worker(await connect_ready(settings), settings, store)
    worker_task = asyncio.create_task(worker.run())
    app = create_app(settings, relay=True)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http,
        ):
            lead_id = (await http.post("/v1/leads", json=LEAD, headers=admin)).json()["lead_id"]

            async def track(i: int) -> int:
                body = {
                    "type": "track",
                    "messageId": f"m-{i}",
                    "userId": "crm-42",
                    "event": "Page View",
                }
                return (await http.post("/v1/track", json=body, headers=ingest)).status_code

            assert [await track(i) for i in range(3)] == [200, 200, 200]

            async def three() -> bool:
                return await events_seen(http, admin, lead_id) == 3

            await until(three)

            server.stop()  # Temporal goes away mid-stream
            assert [await track(i) for i in range(3, 6)] == [200, 200, 200]
            await asyncio.sleep(1)
            assert pending(store) == 3  # accepted, stored, waiting

            server = await start_dev_server(data, port=port, ui_port=ui_port)

            async def six() -> bool:
                return pending(store) == 0 and await events_seen(http, admin, lead_id) == 6

            await until(six, timeout=90)
    finally:
        worker_task.cancel()
        server.stop()
