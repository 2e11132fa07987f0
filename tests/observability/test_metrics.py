"""Counters a scraper sees move: events accepted and relayed on the API's /metrics; emails by
outcome on the worker's /metrics beside the Temporal SDK's own; no personal data in any."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.api.auth import create_api_key
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.observability.worker_http import run_serving, sdk_metrics_runtime
from nurture.store.engine import Store
from nurture.store.relay import relay_once
from nurture.worker_setup import build_worker
from tests.helpers.api import LEAD, Api
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead
from tests.helpers.paths import REPO
from tests.helpers.processes import free_port, until


def sample(text: str, name: str, **labels: str) -> float:
    """A sample's value in a scrape (0 when absent: a counter not yet moved)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def test_the_api_counts_events_accepted_and_relayed(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    await api.http.post("/v1/leads", json=LEAD, headers=api.leads)
    assert (await api.http.get("/metrics")).status_code == 401  # volumes are not public
    scraper = {"Authorization": f"Bearer {create_api_key(store, 'prometheus', ['metrics'])}"}
    assert (await api.http.get("/metrics", headers=api.ingest)).status_code == 403
    before = (await api.http.get("/metrics", headers=scraper)).text
    page = {"type": "page", "messageId": "m-1", "userId": "crm-42",
            "context": {"page": {"url": "https://acme.example/pricing"}}}  # fmt: skip
    await api.http.post("/v1/page", json=page, headers=api.ingest)
    await api.http.post("/v1/page", json=page, headers=api.ingest)  # a repeat: not new
    assert (await relay_once(store, client)).delivered == 1

    after = await api.http.get("/metrics", headers=scraper)
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    accepted = "nurture_events_accepted_total"
    relayed = "nurture_events_relayed_total"
    assert (
        sample(after.text, accepted, source="server") - sample(before, accepted, source="server")
        == 1
    )
    assert (
        sample(after.text, relayed, outcome="delivered")
        - sample(before, relayed, outcome="delivered")
        == 1
    )
    assert "aiko" not in after.text.lower() and "crm-42" not in after.text


async def test_the_worker_serves_its_counters_and_the_sdks_with_health(
    env: WorkflowEnvironment, settings: Settings, store: Store
) -> None:
    sdk = sdk_metrics_runtime()
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=pydantic_data_converter,
        runtime=sdk.runtime,
    )
    address = f"127.0.0.1:{free_port()}"
    worker = build_worker(client, settings, store)
    serving = asyncio.create_task(run_serving(worker, client, address, sdk.url))
    try:
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:

            async def ready() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/readyz")).status_code == 200
                return False

            await until(ready, timeout=30)
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            sent = "nurture_messages_total"
            before = sample(
                (await http.get("/metrics")).text, sent, channel="email", outcome="sent"
            )

            await advance_to_weekday_noon_tokyo(env, 2)
            outcome = await start_journey(client, settings, store, make_lead(store), "acme")
            handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
            await eventually(handle, lambda s: s.emails_sent == 1)

            scrape = (await http.get("/metrics")).text
        assert sample(scrape, sent, channel="email", outcome="sent") - before == 1
        assert "temporal_workflow_task_schedule_to_start_latency" in scrape
        assert "temporal_sticky_cache_hit" in scrape
        assert "aiko" not in scrape.lower()
        exposed = {
            line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line[:1].isalpha()
        }
        queried = dashboard_metrics()
        assert {m for m in queried if m.startswith("temporal_")} - exposed == set()
        nurture = {m.removesuffix("_total") for m in queried if m.startswith("nurture_")}
        assert nurture == {"nurture_events_accepted", "nurture_events_relayed",
                           "nurture_messages", "nurture_handoffs"}  # fmt: skip
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


def dashboard_metrics() -> set[str]:
    """Every metric the shipped Grafana dashboard queries."""
    dashboard = json.loads((REPO / "deploy" / "grafana" / "nurture.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])
    return {name for expr in exprs for name in re.findall(r"\b(?:nurture|temporal)_\w+", expr)}
