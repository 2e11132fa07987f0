"""The trigger email's floor, and its latency at half the stack's trigger capacity.

The floor does a trigger's least work: a signal from this process to a BareTrigger workflow
(bench/bare_trigger.py, in the floor's worker process), whose one activity renders the same
trigger template and writes one row to the run's PostgreSQL database. Paced at the trigger
phase's rate and count, its whole-stack CPU per trigger (every process of the stack: API,
relays, server, workers, PostgreSQL, this one) is the denominator of the issue's ratio
(≤ 1.5×). Capacity is what the cores can carry at Nurture's measured CPU per trigger;
trigger emails are then paced at half of it, and their p99 must stay under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field

import sqlalchemy

from bench.bare_trigger import CREATE
from bench.harness.cpu import Usage, metered
from bench.harness.report import print_line, quantile
from bench.harness.waiting import pool, until
from bench.ingest.config import BARE_QUEUE, DRAIN_LIMIT
from bench.ingest.phases.trigger import Triggers, trigger_latency
from bench.ingest.stack import Cohorts, Stack

TARGET_CPU_RATIO = 1.5


@dataclass
class TriggerFloor:
    sent: int = 0
    cpu_ms: float = 0.0  # whole stack, per trigger
    latencies: list[float] = field(default_factory=list)  # signal → row's sent_at


@dataclass
class HalfCapacity:
    capacity: float  # triggers/s the cores carry at Nurture's CPU per trigger
    rate: float  # half of it: what the phase paced
    triggers: Triggers


def stack_cpu_ms(usage: Usage, count: int) -> float:
    """CPU of every process of the stack (not the machine total) per item, in ms."""
    used = sum(v for name, v in usage.cpu.items() if name != "machine")
    return 1000 * used / max(1, count)


def _rows(stack: Stack, prefix: str) -> dict[tuple[str, int], float]:
    with stack.store.engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text(
                "SELECT workflow_id, n, sent_at FROM bench_floor_sends WHERE workflow_id LIKE :p"
            ),
            {"p": f"{prefix}-%"},
        )
        return {(wid, n): at.timestamp() for wid, n, at in rows}


async def trigger_floor(stack: Stack, who: Cohorts, args: argparse.Namespace) -> TriggerFloor:
    with stack.store.engine.begin() as connection:  # before any activity looks for it
        connection.exec_driver_sql(CREATE)
    prefix = f"bare-trigger-{who.tag}"
    ids = [f"{prefix}-{i}" for i in range(len(who.trigger_leads))]
    await pool(
        ids,
        lambda wid: stack.client.start_workflow("BareTrigger", id=wid, task_queue=BARE_QUEUE),
        16,
    )
    warm = ids[:4]  # the activity's engine and template, loaded untimed
    await pool(warm, lambda wid: stack.client.get_workflow_handle(wid).signal("trigger", -1), 4)

    async def warmed() -> bool:
        return len(await asyncio.to_thread(_rows, stack, prefix)) >= len(warm)

    await until("trigger floor warm-up", warmed, DRAIN_LIMIT)
    count = round(args.trigger_rate * args.trigger_seconds)
    sent_at: dict[tuple[str, int], float] = {}
    gate = asyncio.Semaphore(args.concurrency)

    async def one(wid: str, n: int) -> None:
        async with gate:
            sent_at[(wid, n)] = time.time()
            await stack.client.get_workflow_handle(wid).signal("trigger", n)

    result = TriggerFloor()
    with metered(stack.pids.snapshot) as usage:
        start = time.monotonic()
        tasks = []
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / args.trigger_rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(ids[n % len(ids)], n)))
        await asyncio.gather(*tasks)

        async def done() -> bool:
            return len(await asyncio.to_thread(_rows, stack, prefix)) >= len(warm) + count

        await until("trigger floor rows", done, DRAIN_LIMIT)
    rows = await asyncio.to_thread(_rows, stack, prefix)
    result.sent = count
    result.latencies = [rows[key] - at for key, at in sent_at.items() if key in rows]
    result.cpu_ms = stack_cpu_ms(usage, count)
    print_line(
        "trigger floor: signal → row written",
        f"p50 {quantile(result.latencies, 0.5):.3f} s · p99 "
        f"{quantile(result.latencies, 0.99):.3f} s · {result.cpu_ms:.1f} ms CPU per trigger",
    )
    return result


async def half_capacity(
    stack: Stack, who: Cohorts, args: argparse.Namespace, nurture_cpu_ms: float
) -> HalfCapacity:
    """Trigger emails paced at half of what the cores carry at Nurture's CPU per trigger."""
    capacity = (os.cpu_count() or 1) * 1000 / nurture_cpu_ms
    rate = capacity / 2
    print(f"trigger emails at half capacity: {rate:.1f} events/s …", flush=True)
    await asyncio.sleep(1.5)  # past the cool-down of the trigger phase's last events
    triggers = await trigger_latency(
        stack.http,
        stack.store,
        who.trigger_leads,
        f"{who.tag}-h",
        rate,
        args.trigger_seconds,
        args.concurrency,
    )
    print_line(
        f"trigger at {rate:.1f}/s: POST → email sent",
        f"p50 {quantile(triggers.latencies, 0.5):.3f} s · "
        f"p99 {quantile(triggers.latencies, 0.99):.3f} s "
        f"({len(triggers.latencies)} of {triggers.posted})",
    )
    return HalfCapacity(capacity, rate, triggers)
