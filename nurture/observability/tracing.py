"""OpenTelemetry traces: an API request, the journey it starts or signals, the journey's
activities and their sends, as one trace (Temporal's interceptor carries the context in
workflow and activity headers). Exported by OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (the
exporter's own standard settings) when NURTURE_OTEL_TRACING is on.

Span names are routes and workflow or activity types; attributes are categories and ids
that hold no personal data. Events stored by the API reach journeys later through the
relay: each queued delivery keeps the W3C traceparent of the request that accepted it, and
the relay's signal continues that trace (or, for a signal carrying events of several
requests, starts one linked to each).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from nurture.config import Settings

tracer = trace.get_tracer("nurture")
_w3c = TraceContextTextMapPropagator()


def configure_tracing(settings: Settings, service: str) -> list[Interceptor]:
    """Set up export once per process (unless a provider is already set, as in tests) and
    return the Temporal client interceptors that carry traces; none when tracing is off."""
    if not settings.otel_tracing:
        return []
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    return [TracingInterceptor()]


@contextlib.contextmanager
def span(name: str, **attributes: str) -> Iterator[trace.Span]:
    """A span inside whatever trace is current (a no-op when tracing is off)."""
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def current_traceparent() -> str | None:
    """The current span's W3C traceparent, to store beside work done later (None when
    tracing is off or no span is current)."""
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def relay_span(traceparents: Iterable[str | None], events: int) -> Iterator[trace.Span]:
    """The relay's span around one signal: a child of the accepting request's trace when
    all its events came from one request, otherwise a trace of its own linked to each
    (OpenTelemetry's way for one operation that serves several traces)."""
    contexts = [_w3c.extract({"traceparent": tp}) for tp in sorted({t for t in traceparents if t})]
    links = [trace.Link(trace.get_current_span(c).get_span_context()) for c in contexts]
    with tracer.start_as_current_span(
        "relay behaviors",
        context=contexts[0] if len(contexts) == 1 else None,
        kind=trace.SpanKind.PRODUCER,
        links=links,
        attributes={"nurture.events": events},
    ) as current:
        yield current


class TracingMiddleware:
    """One server span per API request, continuing the caller's trace (W3C traceparent),
    named after the route's template, never its filled-in path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with tracer.start_as_current_span(
            scope["method"],
            context=propagate.extract(headers),
            kind=trace.SpanKind.SERVER,
        ) as current:

            async def send_noting_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    current.set_attribute("http.response.status_code", message["status"])
                await send(message)

            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                current.update_name(f"{scope['method']} {template}")
                current.set_attribute("http.route", template)
