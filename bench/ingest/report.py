"""The ingest bench's report: results beside the issue's targets, then where the time went.

Where the time went: CPU by process and phase (who used the two cores), when the slowest
requests were sent, what the relays did, the store's work per request, and the trigger
latency split at the relay and at the history's events.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.harness.cpu import Result, Usage
from bench.harness.report import mean, print_row, quantile
from bench.harness.sql import Profile
from bench.ingest.config import (
    BATCH_SIZE,
    OTHERS_NOTICED,
    SAMPLE,
    TARGET_BATCHED,
    TARGET_DELIVERY_RATIO,
    TARGET_SINGLE,
    TARGET_TRIGGER_P99,
)
from bench.ingest.cpu import PROCESSES, api_cpu, other_cpu
from bench.ingest.load import Load
from bench.ingest.phases.delivery import Delivered, SignalSizes, delivery_rate
from bench.ingest.phases.floor import ClientFloor
from bench.ingest.phases.trigger import Triggers
from bench.ingest.phases.trigger_floor import (
    TARGET_CPU_RATIO,
    HalfCapacity,
    TriggerFloor,
    stack_cpu_ms,
)


@dataclass
class Run:
    """What one run measured: the report's input."""

    events: int
    leads: int
    concurrency: int
    single: Load
    batched: Load
    single_delivery: Delivered
    batched_delivery: Delivered
    floor: Result
    generator: ClientFloor | None  # httpx's ceiling, measured when wrk is not there
    sizes: dict[str, SignalSizes]
    triggers: Triggers
    trigger_usage: Usage
    trigger_floor: TriggerFloor
    half_capacity: HalfCapacity
    work: dict[str, Profile]
    facts: list[str]


def report(run: Run) -> None:
    ms = 1000.0
    s, b, t = run.single, run.batched, run.triggers
    single_d = delivery_rate(s, run.single_delivery)
    batched_d = delivery_rate(b, run.batched_delivery)
    floor = run.floor.rate
    trigger_p99 = quantile(t.latencies, 0.99)
    complete_triggers = len(t.latencies) == t.posted and t.posted > 0

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"\n{'measure':<46}{'result':>14}{'target':>16}{'':>3}")
    rows = [
        (
            f"single /v1/track, accepted events/s (c={run.concurrency})",
            f"{s.rate:.1f}",
            f"≥ {TARGET_SINGLE:.0f}",
            met(s.rate >= TARGET_SINGLE and not s.failures),
        ),
        _generator_row(run),
        (
            f"  per request p50 / p99, ms ({s.generator})",
            f"{s.latency(0.5) * ms:.0f} / {s.latency(0.99) * ms:.0f}",
            "",
            "",
        ),
        ("  events answered 2xx / stored", f"{s.accepted} / {s.stored}", "", ""),
        (
            f"batched /v1/batch ×{BATCH_SIZE}, accepted events/s",
            f"{b.rate:.1f}",
            f"≥ {TARGET_BATCHED:.0f}",
            met(b.rate >= TARGET_BATCHED and not b.failures),
        ),
        (
            f"  per request p50 / p99, ms ({len(b.latencies)} requests)",
            f"{b.latency(0.5) * ms:.0f} / {b.latency(0.99) * ms:.0f}",
            "",
            "",
        ),
        ("  events answered 2xx / stored", f"{b.accepted} / {b.stored}", "", ""),
        ("bare Temporal signals/s (floor)", f"{floor:.1f}", "", ""),
        (
            "delivery to journeys, events/s, after batched",
            f"{batched_d:.1f}",
            f"≥ {TARGET_DELIVERY_RATIO * floor:.1f}",
            met(batched_d >= TARGET_DELIVERY_RATIO * floor),
        ),
        ("  ratio to floor", f"{batched_d / floor:.2f}", f"≥ {TARGET_DELIVERY_RATIO}", ""),
        (
            "delivery to journeys, events/s, after single",
            f"{single_d:.1f}",
            "(ingest-bound)",
            "",
        ),
        (
            f"trigger email, POST → sent p50 / p99, s ({len(t.latencies)}/{t.posted})",
            f"{quantile(t.latencies, 0.5):.2f} / {trigger_p99:.2f}",
            f"p99 < {TARGET_TRIGGER_P99:.0f}",
            met(trigger_p99 < TARGET_TRIGGER_P99 and complete_triggers),
        ),
        *_trigger_cost_rows(run, met),
    ]
    for label, value, target, verdict in rows:
        print(f"{label:<46}{value:>14}{target:>16}   {verdict}")
    print(
        f"\n(N={run.events} events per phase over L={run.leads} leads, "
        f"{run.events // run.leads} per journey; delivery: first request → the workflow time "
        "at which the last journey handled its last event; the floor: the same signals, one "
        "per event, from this process to BareStep workflows in a worker process of their "
        "own; wrk's latency percentiles include its coordinated-omission correction)"
    )
    where_time_goes(run)


def _trigger_cost_rows(run: Run, met: Callable[[bool], str]) -> list[tuple[str, str, str, str]]:
    """Whole-stack CPU per trigger against the floor's, and p99 at half capacity."""
    ours = stack_cpu_ms(run.trigger_usage, run.triggers.posted)
    floor = run.trigger_floor.cpu_ms
    half = run.half_capacity
    t = half.triggers
    p99 = quantile(t.latencies, 0.99)
    complete = len(t.latencies) == t.posted and t.posted > 0
    return [
        ("trigger CPU, whole stack, ms: nurture / floor", f"{ours:.1f} / {floor:.1f}", "", ""),
        (
            "  ratio to the floor",
            f"{ours / floor:.2f}",
            f"≤ {TARGET_CPU_RATIO}",
            met(ours / floor <= TARGET_CPU_RATIO),
        ),
        (
            f"trigger at half capacity ({half.rate:.1f} of {half.capacity:.1f}/s), p99 s",
            f"{p99:.2f}",
            f"< {TARGET_TRIGGER_P99:.0f}",
            met(p99 < TARGET_TRIGGER_P99 and complete),
        ),
    ]


def _generator_row(run: Run) -> tuple[str, str, str, str]:
    """wrk's CPU per request, or httpx's ceiling when it sent the single events."""
    if run.generator is not None:
        return ("  httpx ceiling (no-op server), requests/s", f"{run.generator.rate:.1f}", "", "")
    s = run.single
    per = s.usage.cpu.get("wrk", 0.0) / s.accepted * 1000 if s.accepted else math.nan
    return ("  load generator: wrk, CPU ms per request", f"{per:.3f}", "", "")


Phase = tuple[str, Usage, int]  # a column of the CPU table: name, its usage, events in it


def shared_with_others(phases: Sequence[Phase]) -> None:
    """Say so when processes outside the stack took a noticeable share of the cores."""
    busy = {name.strip(): other_cpu(u) / u.wall for name, u, _ in phases if u.wall}
    name, cores = max(busy.items(), key=lambda item: item[1], default=("", 0.0))
    if cores > OTHERS_NOTICED:
        print(
            f"  ! other processes used up to {cores:.2f} cores (in {name}): the machine was "
            "shared, so the rates above are lower than on a quiet one"
        )


def tail_when(load: Load) -> str:
    """Whether the tail is a warm-up effect (early) or queueing all along (spread)."""
    if load.generator == "wrk":
        return "- (wrk does not report when each request was sent)"
    if not load.samples:
        return "-"
    slow = sorted(load.samples, key=lambda sample: sample[1])[-max(1, len(load.samples) // 100) :]
    offsets = sorted(sent - load.first_sent for sent, _ in slow)
    length = load.last_answered - load.first_sent
    return (
        f"{len(slow)} requests of {slow[0][1] * 1000:.0f} ms or more, sent "
        f"{offsets[0]:.1f}–{offsets[-1]:.1f} s into the {length:.1f} s phase"
    )


def where_time_goes(run: Run) -> None:
    cpu_by_process(
        [
            ("floor", run.floor.usage, run.floor.count),
            ("single", run.single.usage, run.single.accepted),
            ("  drain", run.single_delivery.usage, run.single.accepted),
            ("batched", run.batched.usage, run.batched.accepted),
            ("  drain", run.batched_delivery.usage, run.batched.accepted),
            ("trigger", run.trigger_usage, run.triggers.posted),
        ]
    )
    print("\nthe slowest 1% of requests: when they were sent")
    for name, load in (("single", run.single), ("batched", run.batched)):
        print(f"  {name:<10}{tail_when(load)}")
    relays(run)
    store_work(run.work)
    trigger_split(run.triggers)


def cpu_by_process(phases: Sequence[Phase]) -> None:
    """Busy cores and CPU per event of each process of the stack, phase by phase."""
    print(
        "\nCPU by process (the 'drain' phases run from the last answer until every journey "
        "has handled its events)"
    )
    print_row("", [name for name, _, _ in phases], width=32, size=12)
    print_row("wall seconds", [u.wall for _, u, _ in phases], width=32, size=12)
    print_row("events (floor: signals)", [str(n) for _, _, n in phases], width=32, size=12)

    def workers(u: Usage) -> str:
        """The two busiest uvicorn processes (the workers; the supervisor idles)."""
        busiest = sorted(api_cpu(u).values(), reverse=True)[:2]
        return " + ".join(f"{v / u.wall:.2f}" for v in busiest) if u.wall else "-"

    def source(name: str) -> Callable[[Usage], float]:
        return lambda u: u.cpu.get(name, 0.0)

    groups: list[tuple[str, Callable[[Usage], float]]] = [
        ("bench process (httpx, client)", source("bench")),
        ("wrk", source("wrk")),
        ("uvicorn (supervisor + workers)", lambda u: sum(api_cpu(u).values())),
        *[(label, source(name)) for name, label in PROCESSES.items()],
        ("postgres (all backends)", source("postgres")),
        ("other processes", other_cpu),
        (f"machine ({os.cpu_count()} cores)", source("machine")),
    ]
    print("busy cores (CPU s / wall s)")
    for label, pick in groups:
        print_row(
            label, [pick(u) / u.wall if u.wall else 0 for _, u, _ in phases], width=32, size=12
        )
        if label.startswith("uvicorn"):
            print_row("  the 2 workers", [workers(u) for _, u, _ in phases], width=32, size=12)
    print("CPU ms per event")
    for label, pick in groups:
        print_row(label, [pick(u) / n * 1000 if n else 0 for _, u, n in phases], width=32, size=12)
    shared_with_others(phases)


def relays(run: Run) -> None:
    """What the two relays did in each load phase, and what the journeys received."""
    print("\nrelays (2, one per uvicorn worker)")
    print_row("", ["single", "batched"], width=44, size=12)
    deliveries = (run.single_delivery, run.batched_delivery)
    sizes = (run.sizes["single"], run.sizes["batched"])
    rows: list[tuple[str, Sequence[str]]] = [
        ("outbox rows", [f"{d.rows}" for d in deliveries]),
        ("relay rounds that marked rows", [f"{len(d.rounds)}" for d in deliveries]),
        (
            "  rows per round, mean / max",
            [f"{mean(d.rounds):.0f} / {max(d.rounds, default=0)}" for d in deliveries],
        ),
        (
            "  seconds between rounds, mean / max",
            [f"{mean(d.round_gaps):.2f} / {max(d.round_gaps, default=0):.2f}" for d in deliveries],
        ),
        ("rows marked by both relays (attempts > 1)", [f"{d.signalled_twice}" for d in deliveries]),
        (
            "last event stored → last delivered_at, s",
            [
                f"{d.marked_by.timestamp() - load.last_answered:.2f}" if d.marked_by else "-"
                for d, load in ((deliveries[0], run.single), (deliveries[1], run.batched))
            ],
        ),
        (
            "last delivered_at → last event handled, s",
            [
                f"{d.handled_by.timestamp() - d.marked_by.timestamp():.2f}"
                if d.marked_by and d.handled_by
                else "-"
                for d in deliveries
            ],
        ),
        (
            f"behaviors signals per journey ({sizes[0].journeys} sampled)",
            [f"{z.signals / z.journeys:.1f}" if z.journeys else "-" for z in sizes],
        ),
        ("  events per signal (repeats included)", [f"{z.per_signal:.2f}" for z in sizes]),
        (
            "  events a journey got twice, per journey",
            [f"{z.repeats / z.journeys:.1f}" if z.journeys else "-" for z in sizes],
        ),
    ]
    for label, texts in rows:
        print_row(label, texts, width=44, size=12)


def store_work(work: dict[str, Profile]) -> None:
    """Round trips and time per request, from the instrumented in-process pass."""
    print("\nstore work per request (in-process, one at a time, same database)")
    print_row("", list(work), width=36, size=16)
    rows: list[tuple[str, Callable[[Profile], float], int]] = [
        ("pool checkouts", lambda w: w.per(w.db.checkouts), 1),
        ("transactions (BEGIN+COMMIT trips)", lambda w: w.per(w.db.transactions), 1),
        ("statements", lambda w: w.per(w.db.statements), 1),
        ("ms in statements (cursor.execute)", lambda w: w.per(w.db.execute_s) * 1000, 2),
        ("ms in COMMITs", lambda w: w.per(w.db.commit_s) * 1000, 2),
        ("ms in pre-pings", lambda w: w.per(w.db.ping_s) * 1000, 2),
        ("ms outside the driver (Python)", lambda w: w.per(w.python_s) * 1000, 2),
        ("ms per request, unloaded", lambda w: w.per(w.wall) * 1000, 2),
    ]
    for label, value, digits in rows:
        print_row(label, [value(w) for w in work.values()], width=36, size=16, digits=digits)


def latencies(rows: Sequence[tuple[str, Sequence[float]]]) -> None:
    """p50, p99 and max of each row's latencies, in seconds."""
    for label, values in rows:
        print(
            f"{label:<40}p50 {quantile(values, 0.5):6.3f}   p99 {quantile(values, 0.99):6.3f}"
            f"   max {max(values, default=math.nan):6.3f}"
        )


def trigger_split(t: Triggers) -> None:
    """Trigger latency split at the relay, then at the history's events after its signal."""
    print(f"\ntrigger latency split at the relay, s ({len(t.to_relay)} events)")
    latencies(
        [
            ("POST → relay signalled (delivered_at)", t.to_relay),
            ("relay signalled → email sent", t.to_send),
            ("POST → email sent", t.latencies),
        ]
    )
    if t.unmatched:
        print(f"  ({t.unmatched} events of leads whose emails did not pair one to one: left out)")
    path = t.path
    print(f"after the relay's signal, from {path.signals} signals in {SAMPLE} histories, s")
    latencies(
        [
            ("signal → workflow task started", path.to_task),
            ("workflow task started → completed", path.task),
            ("signal → send_email scheduled", path.to_schedule),
            ("send_email scheduled → started", path.queued),
            ("send_email started → completed", path.activity),
        ]
    )
    if path.before:
        print(f"  activities scheduled before the send: {dict(path.before)}")
    print(
        f"one at a time ({len(t.solo)} events): POST → email sent p50 "
        f"{quantile(t.solo, 0.5):.3f} s, max {max(t.solo, default=math.nan):.3f} s"
    )
