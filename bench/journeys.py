"""Throughput of Nurture beside the bare Temporal floor, measured in the same run.

House rule: performance is judged by benchmarks that print ratios against the bare
Temporal floor measured in the same run on the same server, never by timed assertions
in tests. Absolute rates depend on the machine (docs/benchmarks.md gives the figures
measured on our 2-core machines); the ratio says how much of the engine Nurture's own
code costs.

    .venv/bin/python -m bench.journeys [--leads N] [--events-per-lead K] [--quick]

One process, one fresh dev server (WAL pragmas, in a temp dir), two workers with the same
settings: the Nurture worker from `build_worker`, and a bare worker (bench/bare.py) on its
own task queue.

  A. start → first email: N bare workflows (start, one no-op activity) against N journeys
     on bench/scenarios/bench (start, load the scenario, record the lifecycle, send).
  B. behaviour signals: K signals to each of the N workflows, interleaved across them,
     against K `behavior` events to each journey (rescore, re-plan the wait, publish).

Completion times come from the work itself (the activity's clock, the `sends` row's
`sent_at`, the workflow time at which the last signal was handled), so the polling that
detects completion adds no latency to the rates. Below the ratios it prints where the time
goes: CPU per item of this process and of the server, what the histories hold, and task
and activity latencies under load and one workflow at a time.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare import DONE, BareStep, bare_step
from bench.harness import cli
from bench.harness.cpu import Result, metered, own_cpu, process_cpu, readable
from bench.harness.databases import as_utc, sqlite_url, upgraded_store, upsert_leads
from bench.harness.report import machine_facts, mean, print_ratios, print_row
from bench.harness.temporal import (
    bare_signals,
    begin_journey,
    behavior_event,
    cache_bytecode,
    dev_server,
    run_settings,
    temporal_versions,
)
from bench.harness.waiting import latest_handled, pool, until
from nurture.cli.devstack import DevServer, connect_ready
from nurture.config import Settings
from nurture.journey.client import journey_state, send_behavior
from nurture.journey.contract import journey_id
from nurture.store.engine import Store
from nurture.store.models import Lead, Send
from nurture.worker_setup import build_worker, polling_options

PRODUCT = "bench"
BARE_QUEUE = "bench-bare"
NURTURE_QUEUE = "bench-nurture"
BATCH = 50  # concurrent starts per batch, and signals/queries in flight
TIMEOUT = 120.0  # seconds any one phase may take before the run gives up (at least)
SECONDS_PER_ITEM = 0.1  # more for big runs: a burst of 3,000 starts takes ~150 s on 2 cores
WARMUP = 5  # workflows of each kind run once, untimed, before measuring
SAMPLE = 20  # histories read per kind for "where the time goes"
SOLO = 5  # workflows of each kind started one at a time, for unloaded latencies

T = TypeVar("T")


# ---- floor and Nurture, phase by phase ----------------------------------------------------


async def in_batches(items: Sequence[T], call: Callable[[T], Awaitable[object]]) -> None:
    """Start things as an importer would: BATCH at a time, each batch awaited whole."""
    for i in range(0, len(items), BATCH):
        await asyncio.gather(*(call(item) for item in items[i : i + BATCH]))


async def wait_until(what: str, progress: Callable[[], Awaitable[int]], target: int) -> None:
    """Poll `progress` until it reaches `target`; the run gives up after TIMEOUT."""
    done = 0

    async def reached() -> bool:
        nonlocal done
        done = await progress()
        return done >= target

    limit = max(TIMEOUT, target * SECONDS_PER_ITEM)
    if not await until(what, reached, limit):
        raise TimeoutError(f"{what}: {done}/{target} after {limit:.0f} s")


async def wait_processed(
    what: str, ids: Sequence[str], check: Callable[[str], Awaitable[datetime | None]]
) -> datetime:
    """Query each workflow until it has handled all its signals; the latest handling time.

    Both kinds are checked the same way, by their `state` query, BATCH at a time and each
    only until it is done: the polling adds some load but, with the rate taken from the
    workflow time of the last signal, no latency.
    """
    limit = max(TIMEOUT, len(ids) * SECONDS_PER_ITEM)
    last = await latest_handled(what, ids, check, concurrency=BATCH, limit=limit, window=BATCH)
    if last is None:
        raise TimeoutError(f"{what}: not all handled after {limit:.0f} s")
    return last


async def floor_starts(client: Client, ids: Sequence[str]) -> Result:
    start = time.time()
    await in_batches(
        ids, lambda wid: client.start_workflow(BareStep.run, id=wid, task_queue=BARE_QUEUE)
    )

    async def ran() -> int:
        return sum(wid in DONE for wid in ids)

    await wait_until("bare activities", ran, len(ids))
    return Result(len(ids), max(DONE[wid] for wid in ids) - start)


async def nurture_starts(
    client: Client, settings: Settings, store: Store, leads: Sequence[Lead]
) -> Result:
    start = time.time()

    await in_batches(leads, lambda lead: begin_journey(client, settings, store, lead, PRODUCT))
    lead_ids = [lead.id for lead in leads]
    last_sent: list[datetime | None] = [None]

    def sent() -> int:
        query = select(func.count(), func.max(Send.sent_at)).where(
            Send.lead_id.in_(lead_ids), Send.status == "sent"
        )
        with store.session() as session:
            count, last_sent[0] = session.execute(query).one()
        return int(count)

    async def progress() -> int:
        return await asyncio.to_thread(sent)

    await wait_until("first emails", progress, len(leads))
    assert last_sent[0] is not None
    return Result(len(leads), as_utc(last_sent[0]).timestamp() - start)


async def floor_signals(client: Client, ids: Sequence[str], per: int) -> Result:
    result = await bare_signals(
        client, dict.fromkeys(ids, per), "bench", concurrency=BATCH, limit=TIMEOUT, window=BATCH
    )
    if math.isnan(result.seconds):
        raise TimeoutError(f"bare signals: not all handled after {TIMEOUT:.0f} s")
    return result


async def nurture_signals(client: Client, lead_ids: Sequence[str], per: int) -> Result:
    start = time.time()
    sends = [(lead_id, n) for n in range(per) for lead_id in lead_ids]
    await pool(
        sends,
        lambda s: send_behavior(client, PRODUCT, s[0], behavior_event(f"bench-{s[0]}-{s[1]}")),
        BATCH,
    )

    async def check(lead_id: str) -> datetime | None:
        state = await journey_state(client, PRODUCT, lead_id)
        if state.score.total > per:
            raise RuntimeError(f"lead {lead_id} scored {state.score.total} for {per} events")
        if state.score.total < per:
            return None
        return max(entry.at for entry in state.timeline if entry.kind == "event")

    last = await wait_processed("journey signals", lead_ids, check)
    return Result(len(sends), last.timestamp() - start)


# ---- where the time goes: what the histories say ------------------------------------------


@dataclass
class HistoryProfile:
    """Means per workflow over some histories, split at the first signal (if any)."""

    events_before_signals: dict[str, float] = field(default_factory=dict)  # by event type
    events_per_signal: dict[str, float] = field(default_factory=dict)
    start_to_last_activity_ms: float = 0.0  # workflow started → its last activity completed
    task_ms: float = 0.0  # workflow task started → completed (worker code + round trip)
    activity_ms: dict[str, float] = field(default_factory=dict)  # started → completed


def _kind(event_type: EventType.ValueType) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()


async def read_histories(client: Client, ids: Sequence[str], per: int) -> HistoryProfile:
    """Count events and time tasks in the histories: evidence for why a rate is what it is."""
    signaled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    task_done = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    activity_done = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    profile = HistoryProfile()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    first_email: list[float] = []
    task_ms: list[float] = []
    activity_ms: dict[str, list[float]] = {}
    for wid in ids:
        events = (await client.get_workflow_handle(wid).fetch_history()).events
        kinds = [e.event_type for e in events]
        split = kinds.index(signaled) if signaled in kinds else len(kinds)
        before.update(map(_kind, kinds[:split]))
        after.update(map(_kind, kinds[split:]))
        at = {e.event_id: e.event_time.ToDatetime() for e in events}
        names = {
            e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        for e in events[:split]:
            if e.event_type == task_done:
                started = e.workflow_task_completed_event_attributes.started_event_id
                task_ms.append((at[e.event_id] - at[started]).total_seconds() * 1000)
            elif e.event_type == activity_done:
                attrs = e.activity_task_completed_event_attributes
                elapsed = (at[e.event_id] - at[attrs.started_event_id]).total_seconds() * 1000
                activity_ms.setdefault(names[attrs.scheduled_event_id], []).append(elapsed)
        last_activity = max(e.event_id for e in events[:split] if e.event_type == activity_done)
        first_email.append((at[last_activity] - at[events[0].event_id]).total_seconds() * 1000)
    profile.events_before_signals = {name: n / len(ids) for name, n in before.items()}
    if per:
        profile.events_per_signal = {name: n / (len(ids) * per) for name, n in after.items()}
    profile.start_to_last_activity_ms = mean(first_email)
    profile.task_ms = mean(task_ms)
    profile.activity_ms = {name: mean(v) for name, v in activity_ms.items()}
    return profile


Line = tuple[str, Callable[[HistoryProfile], float]]  # a report row: label, value of a profile


# ---- the run ------------------------------------------------------------------------------


@dataclass
class Run:
    floor_a: Result
    nurture_a: Result
    floor_b: Result
    nurture_b: Result
    loaded: tuple[HistoryProfile, HistoryProfile]  # floor, nurture: sampled from A and B
    solo: tuple[HistoryProfile, HistoryProfile]  # floor, nurture: one at a time, no load


async def measure(
    client: Client, settings: Settings, store: Store, server: DevServer, leads: int, per: int
) -> Run:
    pid = server.process.pid if server.process else None
    tag = f"b{int(time.time())}"
    bare_ids = [f"bare-{tag}-{i}" for i in range(leads)]
    bench_leads = upsert_leads(store, tag, leads)
    lead_ids = [lead.id for lead in bench_leads]
    warm_leads = upsert_leads(store, f"{tag}-warm", WARMUP)
    solo_leads = upsert_leads(store, f"{tag}-solo", SOLO)

    print(f"warm-up: {WARMUP} workflows of each kind, one signal each …", flush=True)
    warm_ids = [f"bare-{tag}-warm-{i}" for i in range(WARMUP)]
    await floor_starts(client, warm_ids)
    await nurture_starts(client, settings, store, warm_leads)
    await floor_signals(client, warm_ids, 1)
    await nurture_signals(client, [lead.id for lead in warm_leads], 1)

    def cpu() -> dict[str, float]:
        """This process (both workers and the client) and the dev server."""
        return {**own_cpu(), **readable(server=process_cpu(pid))}

    async def phase(name: str, work: Awaitable[Result]) -> Result:
        print(f"{name:<32}", end="", flush=True)
        with metered(cpu) as usage:
            result = await work
        result.usage = usage
        print(f"{result.rate:7.1f}/s  ({result.count} in {result.seconds:.2f} s)", flush=True)
        return result

    # Adjacent pairs, floor first: each Nurture phase meets a server that holds N more
    # workflows than its floor did, a (small) bias against Nurture, never for it.
    floor_a = await phase("floor A: start → activity", floor_starts(client, bare_ids))
    nurture_a = await phase(
        "nurture A: start → first email", nurture_starts(client, settings, store, bench_leads)
    )
    floor_b = await phase("floor B: signals", floor_signals(client, bare_ids, per))
    nurture_b = await phase("nurture B: behaviour events", nurture_signals(client, lead_ids, per))

    print(f"solo: {SOLO} workflows of each kind, one at a time …", flush=True)
    solo_ids = [f"bare-{tag}-solo-{i}" for i in range(SOLO)]
    for wid, lead in zip(solo_ids, solo_leads, strict=True):
        await floor_starts(client, [wid])
        await nurture_starts(client, settings, store, [lead])

    step = max(1, leads // SAMPLE)
    journeys = [journey_id(PRODUCT, lead_id) for lead_id in lead_ids]
    return Run(
        floor_a,
        nurture_a,
        floor_b,
        nurture_b,
        loaded=(
            await read_histories(client, bare_ids[::step][:SAMPLE], per),
            await read_histories(client, journeys[::step][:SAMPLE], per),
        ),
        solo=(
            await read_histories(client, solo_ids, 0),
            await read_histories(client, [journey_id(PRODUCT, x.id) for x in solo_leads], 0),
        ),
    )


def report(run: Run, leads: int, per: int) -> None:
    print_ratios(
        [
            (f"start → first email (N={leads})", run.floor_a, run.nurture_a),
            (f"behaviour signals (N×K={leads * per})", run.floor_b, run.nurture_b),
        ],
        width=34,
    )

    print("\nCPU per item, ms (busy cores = CPU seconds / wall seconds of the phase)")
    phases = [
        ("floor A", run.floor_a),
        ("nurture A", run.nurture_a),
        ("floor B", run.floor_b),
        ("nurture B", run.nurture_b),
    ]
    print_row("", [name for name, _ in phases], width=32, size=11)
    for label, source in (
        ("bench process (worker+client)", "bench"),
        ("temporal server", "server"),
    ):
        print_row(label, [r.per_item_ms(source) for _, r in phases], width=32, size=11)
        print_row("  busy cores", [r.usage.busy(source) for _, r in phases], width=32, size=11)

    def table(
        title: str, profiles: tuple[HistoryProfile, ...], lines: list[Line], digits: int = 1
    ) -> None:
        print(f"\n{title:<50}{'floor':>10}{'nurture':>10}")
        for label, value in lines:
            values = [v or None for v in map(value, profiles)]
            print_row(label, values, width=50, size=10, digits=digits)

    loaded, solo = run.loaded, run.solo
    signal_kinds = sorted({k for p in loaded for k in p.events_per_signal})
    table(
        f"history, mean per workflow ({min(SAMPLE, leads)} of each)",
        loaded,
        [
            ("events before the first signal", lambda p: sum(p.events_before_signals.values())),
            *[
                (f"  {k}", lambda p, k=k: p.events_before_signals.get(k, 0.0))
                for k in sorted({k for p in loaded for k in p.events_before_signals})
            ],
            ("events per signal", lambda p: sum(p.events_per_signal.values())),
            *[(f"  {k}", lambda p, k=k: p.events_per_signal.get(k, 0.0)) for k in signal_kinds],
        ],
        digits=2,
    )
    activities = sorted({n for p in (*loaded, *solo) for n in p.activity_ms})
    for title, profiles in (
        ("during phase A, ms (under load)", loaded),
        (f"one at a time, ms (mean of {SOLO})", solo),
    ):
        table(
            title,
            profiles,
            [
                ("start → last activity done (first email)", lambda p: p.start_to_last_activity_ms),
                ("workflow task started → completed", lambda p: p.task_ms),
                *[
                    (f"activity {n} started → completed", lambda p, n=n: p.activity_ms.get(n, 0))
                    for n in activities
                ],
            ],
        )


async def main(leads: int, per: int, bytecode_cache: bool) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nurture-bench-") as tmp:
        data = Path(tmp)
        cache_note = (
            cache_bytecode(data / "pycache")
            if bytecode_cache
            else "bytecode cache: as this Python has it (--no-bytecode-cache)"
        )
        async with dev_server(data) as server:
            settings = run_settings(server, data, sqlite_url(data), task_queue=NURTURE_QUEUE)
            client = await connect_ready(settings)
            with upgraded_store(settings.database_url) as store:
                bare = Worker(  # the same worker options build_worker gives the journey worker
                    client,
                    task_queue=BARE_QUEUE,
                    workflows=[BareStep],
                    activities=[bare_step],
                    **polling_options(settings),
                )
                async with AsyncExitStack() as workers:
                    await workers.enter_async_context(build_worker(client, settings, store))
                    await workers.enter_async_context(bare)
                    run = await measure(client, settings, store, server, leads, per)
    report(run, leads, per)
    facts = machine_facts([temporal_versions()], [cache_note])
    print(f"\n{facts}\ntotal run {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = cli.parser(__doc__)
    parser.add_argument("--leads", type=int, default=300, help="workflows of each kind (N)")
    parser.add_argument(
        "--events-per-lead", type=int, default=3, help="behaviour signals per workflow (K)"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE: the sandbox then compiles each run's module",
    )
    args = cli.parse(parser, quick={"leads": 20, "events_per_lead": 1})
    if args.leads < 1 or args.events_per_lead < 1:
        parser.error("--leads and --events-per-lead must be at least 1")
    asyncio.run(main(args.leads, args.events_per_lead, not args.no_bytecode_cache))
