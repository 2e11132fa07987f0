"""The worker's own small HTTP side, for orchestrators and scrapers: /healthz (the process
answers), /readyz (it reaches Temporal and its worker runs), /metrics (Nurture's counters
followed by the Temporal SDK's: workflow task latency, schedule-to-start, sticky cache).

The SDK's metrics come from its core's Prometheus exporter, bound to a loopback port only
this process reads, so one address serves both."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.request
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from nurture.config import listen_host_port
from nurture.observability.exposition import CONTENT_TYPE, latest


@dataclass(frozen=True)
class SdkMetrics:
    runtime: Runtime
    url: str


def sdk_metrics_runtime() -> SdkMetrics:
    """A Temporal runtime whose core exports its metrics on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"127.0.0.1:{port}"
    telemetry = TelemetryConfig(metrics=PrometheusConfig(bind_address=address))
    return SdkMetrics(Runtime(telemetry=telemetry), f"http://{address}/metrics")


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return bytes(answer.read())


def worker_http_app(
    client: Client, sdk_metrics_url: str | None, running: asyncio.Event
) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = {"temporal": "ok", "worker": "ok" if running.is_set() else "starting"}
        try:
            await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        except Exception as err:
            checks["temporal"] = f"unreachable: {type(err).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(checks, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        text = latest()
        if sdk_metrics_url:
            try:
                text += await asyncio.to_thread(_fetch, sdk_metrics_url)
            except OSError as err:
                text += f"# the Temporal SDK's metrics are unavailable: {err}\n".encode()
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )


async def serve_worker_http(app: Starlette, address: str) -> None:
    """Serve until cancelled (the worker's own lifetime)."""
    host, port = listen_host_port(address)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    # Signals belong to the worker's process (nurture/worker_setup.py: stop_on_signals).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    await server.serve()


async def run_serving(
    worker: Worker,
    client: Client,
    address: str,
    sdk_metrics_url: str | None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the worker with its HTTP side beside it, until `stop` is set (or cancelled)."""
    running = asyncio.Event()
    app = worker_http_app(client, sdk_metrics_url, running)
    http = asyncio.create_task(serve_worker_http(app, address))
    try:
        async with worker:
            running.set()
            waiting = asyncio.create_task((stop or asyncio.Event()).wait())
            await asyncio.wait({http, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            running.clear()  # /readyz: stopping
    finally:
        http.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await http
