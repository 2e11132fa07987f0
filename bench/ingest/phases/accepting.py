"""Events accepted by the API: single `POST /v1/track`, then `POST /v1/batch` of 100.

Each load phase sends --events events round robin over the leads (singles from wrk when it
is there, batches from httpx), then counts the phase's events in the store by lead: what
the journeys must get. Each is followed by its delivery to the journeys (phases/delivery).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from bench.harness.cpu import metered
from bench.harness.report import print_line
from bench.ingest.config import WRK
from bench.ingest.load import Load, batches, drive, singles, spread
from bench.ingest.phases.delivery import (
    Delivered,
    delivery_text,
    nurture_delivery,
    stored_events,
)
from bench.ingest.stack import Cohorts, Stack
from bench.ingest.wrk import wrk_track


async def send_phase(
    name: str, prefix: str, stack: Stack, who: Cohorts, args: argparse.Namespace
) -> Load:
    """One load phase, then the store's count of its events by lead: what the journeys must
    get, whoever counted the answers (wrk counts them, not which lead they were for)."""
    events = spread(prefix, args.events, who.leads, "Bench Event")
    calls = batches(events) if name == "batched" else singles(events)
    with metered(stack.pids.snapshot) as usage:
        if name == "single" and WRK:
            load = await wrk_track(
                stack.base_url, stack.key, who.leads, prefix, args.events, args.concurrency
            )
        else:
            load = await drive(stack.http, calls, args.concurrency)
    load.usage = usage
    load.per_lead = await asyncio.to_thread(stored_events, stack.store, prefix)
    load.stored = sum(load.per_lead.values())
    failed = f", failed: {dict(load.failures)}" if load.failures else ""
    print_line(
        f"{name}: accepted events ({load.generator})",
        f"{load.rate:8.1f}/s  ({load.accepted} in "
        f"{load.last_answered - load.first_sent:.2f} s{failed})",
    )
    verdict = "" if load.stored == load.accepted else "   ! they differ"
    print_line(
        f"{name}: events answered 2xx / stored", f"{load.accepted:>8} / {load.stored}{verdict}"
    )
    return load


async def load_phases(
    stack: Stack, who: Cohorts, args: argparse.Namespace
) -> tuple[dict[str, Load], dict[str, Delivered]]:
    """Single, then batched, each followed by its delivery to the journeys (whose scores
    count the events of both phases)."""
    loads: dict[str, Load] = {}
    deliveries: dict[str, Delivered] = {}
    expected: Counter[str] = Counter()
    for name, prefix in (("single", f"{who.tag}-a"), ("batched", f"{who.tag}-b")):
        load = await send_phase(name, prefix, stack, who, args)
        expected.update(load.per_lead)
        with metered(stack.pids.snapshot) as drain:
            delivered = await nurture_delivery(
                stack.client, stack.store, prefix, Counter(expected), args.concurrency
            )
        delivered.usage = drain
        loads[name], deliveries[name] = load, delivered
        print_line(f"{name}: delivered to journeys", delivery_text(load, delivered))
    return loads, deliveries
