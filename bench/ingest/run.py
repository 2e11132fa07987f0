"""One run of the ingest bench: the stack up, warm-up, the phases in order, the report.

`main` makes the run's temp dir, PostgreSQL database and dev server; `measure` starts the
stack, the leads and their journeys, warms everything up untimed and runs the phases:
the floor, single and batched (each with its delivery), the relay's signal sizes, the
trigger emails, and the instrumented store pass.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from bench.harness.databases import (
    bench_database,
    postgres_facts,
    upgraded_store,
    url_text,
)
from bench.harness.report import machine_facts
from bench.harness.temporal import (
    bare_signals,
    cache_bytecode,
    dev_server,
    run_settings,
    temporal_versions,
)
from bench.ingest.config import DRAIN_LIMIT, NURTURE_QUEUE, PRODUCT, SAMPLE, WARM_LEADS
from bench.ingest.cpu import Pids
from bench.ingest.load import batches, drive, pool_limits, singles, spread
from bench.ingest.phases.accepting import load_phases
from bench.ingest.phases.delivery import nurture_delivery, signal_sizes
from bench.ingest.phases.floor import floor_phase, generator_ceiling
from bench.ingest.phases.store_work import store_work
from bench.ingest.phases.trigger import trigger_phase
from bench.ingest.phases.trigger_floor import half_capacity, stack_cpu_ms, trigger_floor
from bench.ingest.report import Run, report
from bench.ingest.stack import (
    Cohorts,
    Stack,
    api_ready,
    api_server,
    cohorts,
    server_stack,
    start_all,
    worker_processes,
    workers_ready,
)
from bench.ingest.wrk import load_generators
from nurture.api.auth import create_api_key
from nurture.cli.devstack import DevServer, connect_ready
from nurture.config import Settings
from nurture.journey.contract import journey_id
from nurture.store.engine import Store


async def warm_up(stack: Stack, who: Cohorts, concurrency: int) -> None:
    """Untimed: both API workers and relays, the journey and activity workers, the floor."""
    tag, http = who.tag, stack.http
    warm_events = spread(f"{tag}-w", 40, who.warm, "Bench Event")
    warmed = await drive(http, singles(warm_events[:20]), 8)
    warmed.per_lead += (await drive(http, batches(warm_events[20:]), 2)).per_lead
    await drive(http, singles(spread(f"{tag}-wt", WARM_LEADS, who.warm_t, "Bench Trigger")), 4)
    await nurture_delivery(stack.client, stack.store, f"{tag}-w", warmed.per_lead, concurrency)
    warm_ids = who.bare_ids[:WARM_LEADS]
    await bare_signals(
        stack.client, Counter(warm_ids), f"{tag}-w", concurrency=8, limit=DRAIN_LIMIT
    )


async def measure(
    args: argparse.Namespace, settings: Settings, store: Store, server: DevServer, tmp: Path
) -> Run:
    client = await connect_ready(settings)
    print("leads, workers, journeys and bare workflows …", flush=True)
    who = await cohorts(store, args)
    api_log = tmp / "uvicorn.log"
    with (
        worker_processes(settings, tmp) as workers,
        api_server(settings, api_log) as (base_url, api),
    ):
        await workers_ready(client, workers, tmp)
        singles_pids = {name: process.pid for name, process in workers.items()}
        if server.process:
            singles_pids["temporal"] = server.process.pid
        pids = Pids(api.pid, singles_pids, make_url(settings.database_url).database or "")
        await start_all(client, settings, store, who)
        await api_ready(base_url, api, api_log)
        key = await asyncio.to_thread(create_api_key, store, "bench", ["ingest"])
        async with httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {key}"},
            limits=pool_limits(args.concurrency),
            timeout=30,
        ) as http:
            stack = Stack(client, store, http, base_url, key, pids)
            print("warm-up: both API workers, the relays, the journeys …", flush=True)
            await warm_up(stack, who, args.concurrency)
            generator = await generator_ceiling(who, args)
            floor = await floor_phase(stack, who, args)
            loads, deliveries = await load_phases(stack, who, args)
            print("relay signal sizes (histories) …", flush=True)
            step = max(1, len(who.leads) // SAMPLE)
            sample = [journey_id(PRODUCT, lead.id) for lead in who.leads[::step][:SAMPLE]]
            sizes = {
                name: await signal_sizes(client, sample, f"{who.tag}-{letter}")
                for name, letter in (("single", "a"), ("batched", "b"))
            }
            triggers, trigger_usage = await trigger_phase(stack, who, args)
            print("trigger floor: signal → render one template, write one row …", flush=True)
            floor_of_triggers = await trigger_floor(stack, who, args)
            halved = await half_capacity(
                stack, who, args, stack_cpu_ms(trigger_usage, triggers.posted)
            )

        print("store work per request (instrumented, in-process) …", flush=True)
        work = await store_work(settings, key, who.leads, f"{who.tag}-p")
        facts = [
            f"API: {base_url} · 2 uvicorn workers · each its own relay · "
            f"access log {sum(1 for _ in api_log.open('rb'))} lines",
            "workers: `nurture worker --role workflows` and `--role activities`, one process "
            "each; the floor's: bench/bare_worker.py, one process",
            load_generators(args.concurrency),
            server_stack(),
            postgres_facts(settings.database_url),
        ]
    return Run(
        events=args.events,
        leads=args.leads,
        concurrency=args.concurrency,
        single=loads["single"],
        batched=loads["batched"],
        single_delivery=deliveries["single"],
        batched_delivery=deliveries["batched"],
        floor=floor,
        generator=generator,
        sizes=sizes,
        triggers=triggers,
        trigger_usage=trigger_usage,
        trigger_floor=floor_of_triggers,
        half_capacity=halved,
        work=work,
        facts=facts,
    )


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="nurture-ingest-") as tmp, bench_database() as url:
        data = Path(tmp)
        cache_note = cache_bytecode(data / "pycache")
        async with dev_server(data) as server:
            settings = run_settings(
                server,
                data,
                url_text(url),
                task_queue=NURTURE_QUEUE,
                # A lead gets a trigger email every few seconds here; the default cap (3 a
                # week) would defer all but two. A high cap keeps its check on the path.
                frequency_cap_per_week=1000,
            )
            with upgraded_store(url) as store:
                run = await measure(args, settings, store, server, data)
    report(run)
    load = f"load average before the run: {' '.join(f'{v:.2f}' for v in load_before)}"
    facts = machine_facts([temporal_versions()], [*run.facts, f"{load} · {cache_note}"])
    print(f"\n{facts}\ntotal run {time.monotonic() - started:.0f} s")
