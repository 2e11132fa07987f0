"""One trace from an API request to the email it sends: the request's server span (continuing
the caller's traceparent), the journey's start and run, its activities and the send; and an
event stored by one request reaches its journey through the relay in that request's trace."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.config import Settings
from nurture.journey.contract import JourneyResult
from nurture.observability.tracing import configure_tracing
from nurture.store.engine import Store
from nurture.store.relay import relay_once
from nurture.temporal import connect
from nurture.worker_setup import build_worker
from tests.helpers.api import LEAD
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACKER_TRACES = ["0af7651916cd43dd8448eb211c80319c", "5b8aa5a2d2c872e8321cf37308d69df2"]


def traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-00f067aa0ba902b7-01"


def page_view(message_id: str, path: str) -> dict[str, object]:
    return {"type": "page", "messageId": message_id, "userId": "crm-42",
            "context": {"page": {"url": f"https://acme.example/{path}"}}}  # fmt: skip


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process: no other test sets one
    return exporter


@contextlib.asynccontextmanager
async def traced_stack(
    env: WorkflowEnvironment, settings: Settings, store: Store
) -> AsyncIterator[tuple[Client, httpx.AsyncClient]]:
    """The API (relay off: the test runs its rounds) and a worker, both tracing, on a
    Wednesday noon in Tokyo."""
    settings.temporal_address = env.client.service_client.config.target_host
    settings.otel_tracing = True
    client = await connect(settings, interceptors=configure_tracing(settings, "test"))
    app = create_app(settings, relay=False)
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nurture") as http:
            yield client, http


async def test_a_request_its_journey_and_the_send_are_one_trace(
    env: WorkflowEnvironment, settings: Settings, store: Store, spans: InMemorySpanExporter
) -> None:
    leads_key = create_api_key(store, "crm", ["leads"])
    async with traced_stack(env, settings, store) as (client, http):
        answer = await http.post(
            "/v1/leads",
            json=LEAD,
            headers={
                "Authorization": f"Bearer {leads_key}",
                "traceparent": traceparent(CALLER_TRACE),
            },
        )
        assert answer.status_code == 200, answer.text
        journey_id = answer.json()["journeys"][0]["journey_id"]
        handle = client.get_workflow_handle(journey_id, result_type=JourneyResult)
        await eventually(handle, lambda s: s.emails_sent == 1)

    caller = in_trace(spans, CALLER_TRACE)
    names = {s.name for s in caller}
    assert "POST /v1/leads" in names, names
    assert {"StartWorkflow:LeadJourney", "RunWorkflow:LeadJourney"} <= names, names
    assert {"StartActivity:send_email", "RunActivity:send_email", "send email"} <= names, names
    send = next(s for s in caller if s.name == "send email")
    assert send.attributes == {"channel": "email", "nurture.outcome": "sent"}
    everything = " ".join(f"{s.name} {dict(s.attributes or {})}" for s in caller).lower()
    assert "aiko" not in everything and "example.jp" not in everything


async def test_an_event_reaches_its_journey_in_the_trace_of_the_request_that_sent_it(
    env: WorkflowEnvironment, settings: Settings, store: Store, spans: InMemorySpanExporter
) -> None:
    leads_key = create_api_key(store, "crm", ["leads"])
    site_key = create_api_key(store, "site", ["ingest"])
    async with traced_stack(env, settings, store) as (client, http):
        lead = await http.post(
            "/v1/leads", json=LEAD, headers={"Authorization": f"Bearer {leads_key}"}
        )
        journey_id = lead.json()["journeys"][0]["journey_id"]
        handle = client.get_workflow_handle(journey_id, result_type=JourneyResult)
        await eventually(handle, lambda s: s.emails_sent == 1)

        async def track(message_id: str, path: str, trace_id: str) -> None:
            answer = await http.post(
                "/v1/page",
                json=page_view(message_id, path),
                headers={
                    "Authorization": f"Bearer {site_key}",
                    "traceparent": traceparent(trace_id),
                },
            )
            assert answer.status_code == 200, answer.text

        # One request's event: the relay's signal continues that request's trace,
        # though it happens after the answer; the journey's handling of it (in the
        # journey's own trace, as Temporal's interceptor records signals) links to it.
        await track("m-1", "pricing", TRACKER_TRACES[0])
        assert (await relay_once(store, client)).delivered == 1
        await eventually(handle, lambda s: any(e.kind == "event" for e in s.timeline))
        names = {s.name for s in in_trace(spans, TRACKER_TRACES[0])}
        assert {"POST /v1/page", "relay behaviors", "SignalWorkflow:behaviors"} <= names
        handled = [s for s in spans.get_finished_spans() if s.name == "HandleSignal:behaviors"]
        assert [linked_traces(s) for s in handled] == [[TRACKER_TRACES[0]]]

        # Events of two requests in one signal: a trace of its own, linked to both.
        await track("m-2", "docs", TRACKER_TRACES[0])
        await track("m-3", "case-studies", TRACKER_TRACES[1])
        spans.clear()
        assert (await relay_once(store, client)).delivered == 2

    (relayed,) = [s for s in spans.get_finished_spans() if s.name == "relay behaviors"]
    assert f"{relayed.context.trace_id:032x}" not in TRACKER_TRACES
    assert linked_traces(relayed) == sorted(TRACKER_TRACES)
    assert relayed.attributes == {"nurture.events": 2}


def in_trace(spans: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]


def linked_traces(span: ReadableSpan) -> list[str]:
    return sorted(f"{link.context.trace_id:032x}" for link in span.links)
