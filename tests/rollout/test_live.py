"""A page rule an edit removed keeps scoring for journeys still on the version that had it,
and only for as long as one runs it (dev server: visibility counts the versions)."""

from __future__ import annotations

import asyncio

import httpx

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.journey.contract import ScenarioUpdate
from nurture.rollout.live import LiveVersions
from nurture.rollout.queries import journeys_query
from nurture.scenario.loader import load_scenario_dir
from nurture.store.models import Event
from nurture.worker_setup import build_worker
from tests.helpers.devstack import Stack, journeys_shown, start_leads
from tests.helpers.journeys import rows

PLANS = "  - {url_contains: acme.example/plans, event: pricing_page}\n"


async def test_an_older_versions_page_rule_lives_as_long_as_its_journeys(stack: Stack) -> None:
    path = stack.folder / "scenario.yaml"
    original = path.read_text()
    path.write_text(original.replace("pages:\n", "pages:\n" + PLANS))
    async with build_worker(stack.client, stack.settings, stack.store):
        old = await start_leads(stack, 2)
        path.write_text(original)  # the edit drops the /plans rule
        new = load_scenario_dir(stack.folder)
        app = create_app(stack.settings, relay=False)
        live = LiveVersions(stack.store, app.state.temporal.client, ttl=0)
        app.state.live_versions = live
        key = {"Authorization": f"Bearer {create_api_key(stack.store, 'site', ['ingest'])}"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http,
        ):

            async def view(n: int) -> str:
                page = {
                    "type": "page",
                    "messageId": f"m-{n}",
                    "anonymousId": "visitor-1",
                    "context": {"page": {"url": "https://acme.example/plans"}},
                }
                assert (await http.post("/v1/page", json=page, headers=key)).status_code == 200
                [event] = [e for e in rows(stack.store, Event) if e.event_id.startswith(f"m-{n}")]
                return event.type

            assert await view(1) == "pricing_page"  # two journeys run the version with the rule
            assert [s.version for s in await live.of(new)] == [old]
            for execution in [e async for e in stack.client.list_workflows(journeys_query("acme"))]:
                handle = stack.client.get_workflow_handle(execution.id)
                await handle.execute_update("scenario_update", ScenarioUpdate(version=new.version))
            await journeys_shown(stack, 0, f'ScenarioVersion = "{old}"')
            for _ in range(100):  # the refresh runs beside the requests
                if not await live.of(new):
                    break
                await asyncio.sleep(0.05)
            app.state.scenarios = None  # the API re-reads its scenarios every few seconds
            assert await view(2) == "page_view"
