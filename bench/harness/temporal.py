"""Temporal for a benchmark: a dev server of its own, and the bare floor's signals.

`dev_server(data)` starts a fresh `temporal server start-dev` in the run's temp dir on free
ports, prints the tails of the run's logs if the run fails, and stops it at the end. The
floor's workflow is bench/bare.py's BareStep; `bare_signals` sends the floor's share of
behaviour signals and waits, by BareStep's `state` query, until each was handled.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import temporalio
from temporalio.client import Client
from temporalio.service import RPCError

from bench.harness.cpu import Result
from bench.harness.report import print_log_tails
from bench.harness.waiting import latest_handled, pool
from nurture.cli.devstack import DevServer, start_dev_server, temporal_cli
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import Store
from nurture.store.models import Lead

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"  # bench/scenarios


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def dev_server(data: Path) -> AsyncIterator[DevServer]:
    """A dev server for this run; if the run fails, the last lines of every log in `data`
    (the server's, and those of any process the bench started there)."""
    server = await start_dev_server(data, port=free_port(), ui_port=free_port())
    try:
        yield server
    except BaseException:
        print_log_tails([server.log_path, *sorted(data.glob("*.log"))])
        raise
    finally:
        server.stop()


def run_settings(server: DevServer, data: Path, database_url: str, **more: Any) -> Settings:
    """Nurture's settings for a run on this dev server: the scenarios in bench/scenarios,
    the outbox in the run's temp dir `data`, and whatever else the bench sets (`more`)."""
    return Settings(
        temporal_address=server.address,
        database_url=database_url,
        scenarios_dir=SCENARIOS,
        outbox_dir=data / "outbox",
        **more,
    )


def cache_bytecode(directory: Path) -> str:
    """Let the sandbox reuse compiled workflow modules, as an installed worker does.

    The sandbox re-imports a workflow's module for every run. Under PYTHONDONTWRITEBYTECODE
    nothing is cached, so each new journey compiles workflows/lead_journey.py from source
    (~5 ms of CPU). The image's `pip install` writes bytecode, so the benchmark measures
    that shape, with the cache in the temp dir rather than beside the sources.
    """
    was = "off" if sys.dont_write_bytecode else "on"
    sys.pycache_prefix = str(directory)
    sys.dont_write_bytecode = False
    return f"bytecode cache: on (in the temp dir; it was {was} for this Python)"


def temporal_versions() -> str:
    """The SDK's and the dev server's versions, for the machine facts."""
    try:
        cli = subprocess.run(
            [temporal_cli(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, RuntimeError, subprocess.SubprocessError):
        cli = "temporal CLI version unknown"
    return f"temporalio {temporalio.__version__} · {cli}"


async def begin_journey(
    client: Client, settings: Settings, store: Store, lead: Lead, product: str
) -> None:
    """Start a lead's journey as the starter does; a journey that does not start fails the run."""
    outcome = await start_journey(client, settings, store, lead, product)
    if not outcome.started:
        raise RuntimeError(f"{outcome.journey_id}: {outcome.message}")


def behavior_event(event_id: str) -> BehaviorEvent:
    """A behaviour event worth 1 point in bench/scenarios (`bench_event`)."""
    return BehaviorEvent(event_id=event_id, type="bench_event", occurred_at=datetime.now(UTC))


@dataclass
class BareState:
    """What BareStep's `state` query answers."""

    signals: int
    last_signal_at: datetime | None


async def bare_signals(
    client: Client,
    per: Mapping[str, int],
    tag: str,
    *,
    concurrency: int,
    limit: float,
    window: int | None = None,
) -> Result:
    """Bare Temporal: `per[id]` `behavior` signals to each BareStep workflow, interleaved
    across them, `concurrency` in flight; then each is queried until it has handled them.

    The rate runs from the first signal sent to the workflow time of the last one handled
    (NaN seconds if some were not handled within `limit`). A shared counter bumped by an
    activity would add an activity per signal to the floor; a query writes no history.
    """
    ids = list(per)
    sends = [(wid, n) for n in range(max(per.values(), default=0)) for wid in ids if n < per[wid]]
    start = time.time()
    await pool(
        sends,
        lambda s: client.get_workflow_handle(s[0]).signal(
            "behavior", behavior_event(f"{tag}-{s[0]}-{s[1]}")
        ),
        concurrency,
    )

    async def check(wid: str) -> datetime | None:
        try:
            state = await client.get_workflow_handle(wid).query("state", result_type=BareState)
        except RPCError:  # a query that timed out behind the load: ask again next round
            return None
        return state.last_signal_at if state.signals >= per[wid] else None

    last = await latest_handled(
        "bare signals", ids, check, concurrency=concurrency, limit=limit, window=window
    )
    return Result(len(sends), last.timestamp() - start if last else math.nan)
