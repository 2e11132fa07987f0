"""Run the Nurture worker: `python worker.py` (or `nurture worker`)."""

from __future__ import annotations

import asyncio
import logging

from nurture.config import InsecureSecret, get_settings
from nurture.mail.provider_factory import ProviderNotConfigured, build_provider
from nurture.store.engine import Store
from nurture.store.migrate import SchemaOutdated
from nurture.temporal import connect
from nurture.worker_setup import WorkerRole, build_worker


async def main(role: WorkerRole = "all") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
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
    client = await connect(settings)
    worker = build_worker(client, settings, store, role, provider)
    logging.info(
        "worker (%s) polling task queue %r at %s, sending email by %s",
        role,
        settings.task_queue,
        settings.temporal_address,
        provider.name,
    )
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
