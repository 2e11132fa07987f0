"""One trace from an API request to the email it sends: the request's server span (continuing
the caller's traceparent), the journey's start and run, its activities and the send."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import WorkflowEnvironment

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.config import Settings
from nurture.journey.contract import JourneyResult
from nurture.observability.tracing import configure_tracing
from nurture.store.engine import Store
from nurture.temporal import connect
from nurture.worker_setup import build_worker
from tests.helpers.api import LEAD
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process: no other test sets one
    return exporter


async def test_a_request_its_journey_and_the_send_are_one_trace(
    env: WorkflowEnvironment, settings: Settings, store: Store, spans: InMemorySpanExporter
) -> None:
    settings.temporal_address = env.client.service_client.config.target_host
    settings.otel_tracing = True
    client = await connect(settings, interceptors=configure_tracing(settings, "test-worker"))
    app = create_app(settings, relay=False)
    leads_key = create_api_key(store, "crm", ["leads"])
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nurture") as http:
            answer = await http.post(
                "/v1/leads",
                json=LEAD,
                headers={
                    "Authorization": f"Bearer {leads_key}",
                    "traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01",
                },
            )
        assert answer.status_code == 200, answer.text
        journey_id = answer.json()["journeys"][0]["journey_id"]
        handle = client.get_workflow_handle(journey_id, result_type=JourneyResult)
        await eventually(handle, lambda s: s.emails_sent == 1)

    in_trace = [
        s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == CALLER_TRACE
    ]
    names = {s.name for s in in_trace}
    assert "POST /v1/leads" in names, names
    assert {"StartWorkflow:LeadJourney", "RunWorkflow:LeadJourney"} <= names, names
    assert {"StartActivity:send_email", "RunActivity:send_email", "send email"} <= names, names
    send = next(s for s in in_trace if s.name == "send email")
    assert send.attributes == {"channel": "email", "nurture.outcome": "sent"}
    everything = " ".join(f"{s.name} {dict(s.attributes or {})}" for s in in_trace).lower()
    assert "aiko" not in everything and "example.jp" not in everything
