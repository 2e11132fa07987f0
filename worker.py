"""Run the Nurture worker: `python worker.py` (or `nurture worker`)."""

from __future__ import annotations

import asyncio
import logging

from nurture.config import InsecureSecret, get_settings
from nurture.mail.provider_factory import ProviderNotConfigured, build_provider
from nurture.observability.logs import configure_logging
from nurture.observability.tracing import configure_tracing
from nurture.observability.worker_http import run_serving, sdk_metrics_runtime
from nurture.store.engine import Store
from nurture.store.migrate import SchemaOutdated
from nurture.temporal import connect
from nurture.worker_setup import SHUTDOWN_GRACE, WorkerRole, build_worker, stop_on_signals


async def main(role: WorkerRole = "all") -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    try:
        settings.refuse_public_default_secret()  # before connecting: fails fast
        provider = build_provider(settings)  # likewise a missing setting
    except (InsecureSecret, ProviderNotConfigured) as err:
        raise SystemExit(f"nurture worker: {err}") from None
    store = Store(settings.database_url)
    try:
        store.ensure_current()
    except SchemaOutdated as err:
        raise SystemExit(f"nurture worker: {err}") from None
    sdk = sdk_metrics_runtime() if settings.metrics_address else None
    client = await connect(
        settings,
        interceptors=configure_tracing(settings, f"nurture-worker-{role}"),
        runtime=sdk.runtime if sdk else None,
    )
    stop = stop_on_signals()  # SIGTERM, Ctrl-C: running activities finish first
    worker = build_worker(client, settings, store, role, provider, graceful_shutdown=SHUTDOWN_GRACE)
    logging.info(
        "worker (%s) polling task queue %r at %s, sending email by %s",
        role,
        settings.task_queue,
        settings.temporal_address,
        provider.name,
    )
    if settings.metrics_address and sdk:
        logging.info("metrics, /healthz and /readyz on http://%s", settings.metrics_address)
        await run_serving(worker, client, settings.metrics_address, sdk.url, stop)
    else:
        async with worker:
            await stop.wait()
    logging.info("worker (%s) stopped", role)


if __name__ == "__main__":
    asyncio.run(main())
