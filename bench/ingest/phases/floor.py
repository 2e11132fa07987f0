"""The floors of the ingest bench: bare Temporal signals, and the load generator's ceiling.

The delivery ratio divides by bare Temporal: BareStep workflows (bench/bare.py, in a worker
process of their own: bench/bare_worker.py) get the signals the journeys will get, one per
event, from this process at the same concurrency. Without wrk, httpx in this process sends
the single events; its ceiling against a server that does nothing bounds that figure.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import httpx

from bench.harness.cpu import Result, metered
from bench.harness.report import print_line
from bench.harness.temporal import bare_signals, free_port
from bench.ingest.config import DRAIN_LIMIT, WRK
from bench.ingest.load import Tracked, drive, pool_limits, singles, spread
from bench.ingest.stack import Cohorts, Stack


async def floor_phase(stack: Stack, who: Cohorts, args: argparse.Namespace) -> Result:
    """The same number of signals per workflow as the journeys will get."""
    per = Counter(who.bare_ids[n % args.leads] for n in range(args.events))
    with metered(stack.pids.snapshot) as usage:
        floor = await bare_signals(
            stack.client, per, f"{who.tag}-f", concurrency=args.concurrency, limit=DRAIN_LIMIT
        )
    floor.usage = usage
    print_line("floor: bare signals", f"{floor.rate:8.1f}/s  ({floor.count} signals)")
    return floor


NOOP_SERVER = """
import asyncio, sys

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\\r\\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
                         b"content-length: 2\\r\\n\\r\\n{}")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


@dataclass
class ClientFloor:
    """The load generator against a server that does nothing: the most it can send."""

    rate: float = 0.0
    cpu_ms: float = 0.0  # this process's CPU per request


async def client_floor(events: Sequence[Tracked], concurrency: int) -> ClientFloor:
    """httpx costs CPU per request too, on the same 2 cores: its ceiling bounds the single
    rate this benchmark can show, whatever the API does."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", NOOP_SERVER, str(port)])
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=pool_limits(concurrency), timeout=10
        ) as http:
            for _ in range(50):
                with suppress(httpx.HTTPError):
                    await http.post("/", json={})
                    break
                await asyncio.sleep(0.1)
            await drive(http, singles(events[:100]), concurrency)
            cpu = time.process_time()
            load = await drive(http, singles(events), concurrency)
            used = time.process_time() - cpu
    finally:
        server.terminate()
        server.wait()
    return ClientFloor(load.rate, used / max(1, load.accepted) * 1000)


async def generator_ceiling(who: Cohorts, args: argparse.Namespace) -> ClientFloor | None:
    """Without wrk, the single phase is httpx's: measure its ceiling and say so."""
    if WRK:
        return None
    spread_events = spread(f"{who.tag}-n", args.events, who.leads, "Bench Event")
    generator = await client_floor(spread_events, args.concurrency)
    print_line(
        "load generator (httpx) vs a no-op server",
        f"{generator.rate:8.1f}/s  ({generator.cpu_ms:.2f} ms CPU per request)",
    )
    print(
        "  ! wrk not found: httpx in this process sends the single events, so that figure is "
        f"limited by this generator (≤ {generator.rate:.0f}/s here), not only by the API. "
        "For the API's own rate: apt-get install wrk",
        flush=True,
    )
    return generator
