"""Processes and ports in tests: free ports, bounded polling for real-time work."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from nurture.cli.devstack import DevServer, start_dev_server
from nurture.config import Settings
from tests.helpers.paths import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    """Poll a condition with a deadline: the relay backs off while Temporal is down."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def stack_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a deployed process reads its settings from."""
    return os.environ | {
        "NURTURE_TEMPORAL_ADDRESS": settings.temporal_address,
        "NURTURE_DATABASE_URL": settings.database_url,
        "NURTURE_SCENARIOS_DIR": str(settings.scenarios_dir),
        "NURTURE_TASK_QUEUE": settings.task_queue,
        "NURTURE_OUTBOX_DIR": str(settings.outbox_dir),
        "NURTURE_WORKER_MAX_CACHED_WORKFLOWS": str(settings.worker_max_cached_workflows),
        "COLUMNS": "200",
        **extra,
    }


def worker_process(settings: Settings, log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    """`python worker.py` configured by environment, as it is deployed."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(REPO / "worker.py")],
            env=stack_env(settings, **extra_env),
            cwd=REPO,
            stdout=out,
            stderr=out,
        )


async def run_starter(
    settings: Settings, *args: str, script: str = "starter.py", env: dict[str, str] | None = None
) -> tuple[int, str]:
    env = stack_env(settings, **(env or {}))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *(script.split() if script.startswith("-m") else [str(REPO / script)]),
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def dev_server_on_free_ports(data_dir: Path, **options: Any) -> DevServer:
    """A dev server on ports free a moment ago: another process may take one in between
    (the server then exits, "address already in use"), so a few tries with new ports."""
    for attempt in range(3):
        try:
            return await start_dev_server(
                data_dir, port=free_port(), ui_port=free_port(), **options
            )
        except RuntimeError as err:
            log = data_dir / "temporal.log"
            taken = log.exists() and "address already in use" in log.read_text()
            if not taken or attempt == 2:
                raise err from None
            log.unlink()
    raise AssertionError("unreachable")
