"""Stopping a deployed worker (SIGTERM, as an orchestrator does): it stops polling, lets its
running activities finish, says so and exits 0, instead of dying mid-send."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.helpers.devstack import Stack
from tests.helpers.processes import until, worker_process


async def test_sigterm_stops_the_worker_cleanly(stack: Stack, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = worker_process(stack.settings, log)
    try:

        async def polling() -> bool:
            assert process.poll() is None, log.read_text()
            return "polling task queue" in log.read_text()

        await until(polling, timeout=60)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(asyncio.to_thread(process.wait), timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert code == 0, text
    assert "worker (all) stopped" in text
