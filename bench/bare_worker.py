"""The bare floor's worker for bench/ingest, in a process of its own as the journeys' is.

    python -m bench.bare_worker TASK_QUEUE   (NURTURE_TEMPORAL_ADDRESS etc. from the env)

BareStep stays in bench/bare.py and BareTrigger in bench/bare_trigger.py (see there why
each has a file of its own); this runs them with the poller and cache options the journey
worker gets (polling_options), on its own GIL.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from bench.bare import BareStep, bare_step
from bench.bare_trigger import BareTrigger, bare_trigger_send
from nurture.config import Settings
from nurture.temporal import connect
from nurture.worker_setup import polling_options


async def main(task_queue: str) -> None:
    settings = Settings()
    client = await connect(settings)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BareStep, BareTrigger],
        activities=[bare_step, bare_trigger_send],
        activity_executor=ThreadPoolExecutor(max_workers=8),  # the trigger floor's sync one
        **polling_options(settings),
    )
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
