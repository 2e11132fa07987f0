"""Ingestion API throughput, delivery to journeys and trigger latency, end to end.

House rule: performance is judged by benchmarks that print ratios against a floor measured
in the same run on the same server, never by timed assertions in tests. Ingestion has no
engine floor to divide by, so this prints the issue's targets beside the measured rates,
and for delivery the ratio against bare Temporal signals measured in the same run.

    .venv/bin/python bench/ingest.py [--events N] [--leads L]

Everything runs as deployed, on loopback, each part in a process of its own: a fresh
Temporal dev server (temp dir), a fresh PostgreSQL database (dropped at the end), the API
under uvicorn with 2 worker processes (each runs its own outbox relay), and the Nurture
worker as two processes on one task queue, `nurture worker --role workflows` (journeys and
their local activities) and `nurture worker --role activities` (emails, hand-offs). Single
events come from wrk (bench/track.lua), a C load generator in its own process; batches,
paced triggers, the floor's signals and the polling come from this process (httpx and the
Temporal client), which runs no worker any more. On a 2-core machine all of them share the
cores: the CPU table says who used them.

The floor's worker runs in a process of its own too (bench/bare_worker.py: BareStep from
bench/bare.py, the same poller and cache options as the journey worker). Nurture's journeys
have an interpreter, and so a GIL, to themselves, and get their signals from other
processes (the relays in uvicorn); the floor's workflows get the same, their signals coming
from this process. Left in this process, the floor's worker would share a GIL with its own
signal sender and the polling, which lowers the floor and flatters Nurture's ratio.

  floor: L BareStep workflows receive the signals the journeys will get, one per event,
     from this process at the same concurrency (bench/journeys.py's floor B);
  a. single: N `POST /v1/track` events, round robin over L leads with a journey, from wrk
     with --concurrency connections; the store must then hold one event per 2xx. Without
     wrk, httpx in this process sends them, and the figure is that generator's ceiling as
     much as the API's (the bench says so);
  b. batched: the same as `POST /v1/batch` of 100, from httpx;
     after a and b, delivery: from the first request until every journey has handled its
     events (the workflow time of the last one, read with its `state` query);
  d. trigger: ~50 events/s for ~10 s, each firing a trigger email (bench/scenarios/ingest),
     POST → the `sends` row's `sent_at`; then a few one at a time, for the unloaded path.

Below the table it prints where the time goes: CPU by process per phase, when the slowest
requests were sent, what the relays did (rounds, events per signal, events signalled
twice), the store's work per request from an instrumented in-process pass, and the trigger
latency split at the relay and at the history's events.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlalchemy
import uvicorn
from journeys import BareState, as_utc, cache_bytecode, free_port, machine_facts, upsert_leads
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.cli.devstack import DevServer, connect_ready, start_dev_server
from nurture.config import Settings
from nurture.journey.client import journey_state, start_journey
from nurture.journey.contract import journey_id
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import Store
from nurture.store.models import Delivery, Event, Lead, Send

ADMIN_URL = os.environ.get(
    "NURTURE_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
BENCH_DIR = Path(__file__).resolve().parent
PRODUCT = "bench"  # bench/scenarios/bench: bench_event is worth 1 point, no caps
TRIGGER_PRODUCT = "ingest"  # bench/scenarios/ingest: bench_trigger fires an email at once
NURTURE_QUEUE = "bench-ingest-nurture"
BARE_QUEUE = "bench-ingest-bare"
BATCH_SIZE = 100  # events per POST /v1/batch
SEND_LIMIT = 45.0  # seconds a load phase may keep sending; it reports what it got by then
DRAIN_LIMIT = 60.0  # seconds to wait for deliveries, journeys or emails to catch up
POLL = 0.2  # seconds between progress checks
WARM_LEADS = 4  # leads of each product warmed up untimed (both API workers, the worker)
SAMPLE = 20  # journey histories read for the relay's signal sizes
SOLO = 10  # trigger events sent one at a time, each awaited to its email
PROFILE_SINGLES = 20  # requests of each kind in the instrumented in-process pass
PROFILE_BATCHES = 3
OTHERS_NOTICED = 0.2  # cores used by processes outside the stack that the report points out
WRK = shutil.which("wrk")
WRK_SCRIPT = BENCH_DIR / "track.lua"
WRK_THREADS = 1  # one wrk thread sends ~17,000 requests/s to a no-op server on this machine

# The targets.
TARGET_SINGLE = 500.0  # accepted events/s, one event per request
TARGET_BATCHED = 3000.0  # accepted events/s, batches of 100
TARGET_DELIVERY_RATIO = 0.8  # of the bare signal rate on the same server
TARGET_TRIGGER_P99 = 2.0  # seconds, tracker event → trigger email sent

T = TypeVar("T")
Tracked = tuple[str, Lead, dict[str, Any]]  # message id, its lead, the Segment payload


# ---- where the CPU goes -------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from field 3 on (the name may hold spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _cpu_of(pid: int, *, with_children: bool = False) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = sum(int(v) for v in fields[11 : 15 if with_children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """The uvicorn supervisor's worker processes (and anything they spawned)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _reaped_children_cpu() -> float:
    """CPU of this process's children that have exited and been waited for: wrk, which
    runs within a phase (a process's CPU cannot be read from /proc after it is gone)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _postgres_cpu(database: str) -> float:
    """Every `postgres` process but the backends of other databases (someone else's tests
    belong under "other processes"): the postmaster, with the CPU of backends that exited
    (in its cutime/cstime, as bench/store.py counts it), the WAL writer and its kin, and
    this run's backends."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError):
            raw = stat.read_text()
            if raw[raw.find("(") + 1 : raw.rfind(")")] != "postgres":
                continue
            if _database_of(stat.parent / "cmdline") not in (None, database):
                continue
            total += _cpu_of(int(stat.parent.name), with_children=True)
    return total


def _database_of(cmdline: Path) -> str | None:
    """A backend's database from its title, `postgres: 15/main: <user> <database> <client>
    <state>`; None for the postmaster and the background processes."""
    title = cmdline.read_bytes().split(b"\0")[0].decode(errors="replace")
    words = title.rsplit(": ", 1)[-1].split() if title.startswith("postgres: ") else []
    is_backend = len(words) >= 3 and (words[2].endswith(")") or words[2] == "[local]")
    return words[1] if is_backend else None


def _machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (all cores) from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# The stack's single processes, as the CPU table names them.
PROCESSES = {
    "workflows": "nurture worker --role workflows",
    "activities": "nurture worker --role activities",
    "bare": "bare worker (floor)",
    "temporal": "temporal dev server",
}


@dataclass
class Cpu:
    """CPU seconds by process during a phase: which side is the bottleneck on 2 cores."""

    wall: float = 0.0
    bench: float = 0.0  # this process: httpx, the Temporal client, the polling
    wrk: float = 0.0  # child processes reaped during the phase: wrk
    api: dict[int, float] = field(default_factory=dict)  # per uvicorn process
    processes: dict[str, float] = field(default_factory=dict)  # by PROCESSES key
    postgres: float = 0.0
    machine: float = 0.0

    @property
    def api_total(self) -> float:
        return sum(self.api.values())

    @property
    def other(self) -> float:
        """Whatever else ran on the machine meanwhile (other people's tests, say)."""
        known = self.bench + self.wrk + self.api_total + sum(self.processes.values())
        return max(0.0, self.machine - known - self.postgres)


@dataclass
class Pids:
    api: int | None
    processes: dict[str, int]  # by PROCESSES key
    database: str  # this run's: its backends' CPU is the store's


def _snapshot(pids: Pids) -> Cpu:
    api_pids = [pids.api, *_descendants(pids.api)] if pids.api else []
    return Cpu(
        wall=time.monotonic(),
        bench=time.process_time(),
        wrk=_reaped_children_cpu(),
        api={pid: _cpu_of(pid) for pid in api_pids},
        processes={name: _cpu_of(pid) for name, pid in pids.processes.items()},
        postgres=_postgres_cpu(pids.database),
        machine=_machine_cpu(),
    )


@contextmanager
def metered(pids: Pids) -> Iterator[Cpu]:
    usage = Cpu()
    before = _snapshot(pids)
    try:
        yield usage
    finally:
        after = _snapshot(pids)
        usage.wall = after.wall - before.wall
        usage.bench = after.bench - before.bench
        usage.wrk = after.wrk - before.wrk
        usage.api = {pid: cpu - before.api.get(pid, 0.0) for pid, cpu in after.api.items()}
        usage.processes = {
            name: cpu - before.processes.get(name, 0.0) for name, cpu in after.processes.items()
        }
        usage.postgres = after.postgres - before.postgres
        usage.machine = after.machine - before.machine


# ---- load generation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP request and the events it carries: (message id, lead it belongs to)."""

    path: str
    body: dict[str, Any]
    events: tuple[tuple[str, str], ...]


@dataclass
class Load:
    """What a load phase got back. Times are wall clock (time.time) so they compare with
    the store's and the workflows' timestamps; latencies use the monotonic clock."""

    first_sent: float = math.inf
    last_answered: float = 0.0
    accepted: int = 0  # events in 2xx answers
    latencies: list[float] = field(default_factory=list)  # seconds, 2xx requests
    samples: list[tuple[float, float]] = field(default_factory=list)  # (sent, latency), 2xx
    percentiles: dict[float, float] = field(default_factory=dict)  # q → seconds, from wrk
    failures: Counter[str] = field(default_factory=Counter)
    per_lead: Counter[str] = field(default_factory=Counter)  # events per lead (see stored)
    stored: int | None = None  # events of the phase in the store, once counted there
    sent_at: dict[str, float] = field(default_factory=dict)  # message id → request sent
    generator: str = "httpx"
    cpu: Cpu = field(default_factory=Cpu)

    @property
    def rate(self) -> float:
        seconds = self.last_answered - self.first_sent
        return self.accepted / seconds if seconds > 0 else 0.0

    def latency(self, q: float) -> float:
        """Seconds: wrk's percentile when wrk sent the phase, else from every 2xx request."""
        return self.percentiles[q] if self.percentiles else quantile(self.latencies, q)


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the value below which a fraction q of the samples lie."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _post(http: httpx.AsyncClient, call: Call, load: Load) -> None:
    sent = time.time()
    load.first_sent = min(load.first_sent, sent)
    for message_id, _ in call.events:
        load.sent_at[message_id] = sent
    started = time.perf_counter()
    try:
        response = await http.post(call.path, json=call.body)
    except httpx.HTTPError as err:
        load.failures[type(err).__name__] += 1
        return
    elapsed = time.perf_counter() - started
    load.last_answered = max(load.last_answered, time.time())
    if response.is_success:
        load.latencies.append(elapsed)
        load.samples.append((sent, elapsed))
        load.accepted += len(call.events)
        load.per_lead.update(lead for _, lead in call.events)
    else:
        load.failures[f"HTTP {response.status_code}"] += 1


async def drive(http: httpx.AsyncClient, calls: Sequence[Call], concurrency: int) -> Load:
    """Keep `concurrency` requests in flight until all are sent or SEND_LIMIT has passed:
    as fast as the API answers, the most a tracker fleet could push through."""
    load = Load()
    queue = iter(calls)
    deadline = time.monotonic() + SEND_LIMIT

    async def client() -> None:
        for call in queue:  # shared iterator: each call is sent once
            if time.monotonic() > deadline:
                load.failures["not sent: time limit"] += len(call.events)
                continue
            await _post(http, call, load)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return load


async def paced(
    http: httpx.AsyncClient, calls: Sequence[Call], rate: float, concurrency: int
) -> Load:
    """Send at a steady `rate` whatever the answers take (a tracker does not wait), with no
    more than `concurrency` in flight: trigger latency at a realistic load, not at saturation."""
    load = Load()
    gate = asyncio.Semaphore(concurrency)
    start = time.monotonic()

    async def one(call: Call) -> None:
        async with gate:
            await _post(http, call, load)

    tasks = []
    for i, call in enumerate(calls):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(call)))
    await asyncio.gather(*tasks)
    return load


def track_body(message_id: str, user_id: str, name: str, n: int) -> dict[str, Any]:
    """A Segment `track` call as analytics.js sends it (fields Nurture reads, and a few more)."""
    return {
        "type": "track",
        "messageId": message_id,
        "userId": user_id,
        "event": name,
        "properties": {"n": n, "plan": "pro"},
        "context": {
            "page": {"url": "https://bench.example.com/pricing"},
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
        },
        "timestamp": datetime.now(UTC).isoformat(),
    }


def spread(tag: str, count: int, leads: Sequence[Lead], name: str) -> list[Tracked]:
    """`count` events round robin over the leads (userId = the lead's external id)."""
    events = []
    for n in range(count):
        lead = leads[n % len(leads)]
        message_id = f"{tag}-{n}"
        events.append((message_id, lead, track_body(message_id, str(lead.external_id), name, n)))
    return events


def singles(events: Sequence[Tracked]) -> list[Call]:
    return [Call("/v1/track", body, ((mid, lead.id),)) for mid, lead, body in events]


def batches(events: Sequence[Tracked]) -> list[Call]:
    calls = []
    for i in range(0, len(events), BATCH_SIZE):
        chunk = events[i : i + BATCH_SIZE]
        calls.append(
            Call(
                "/v1/batch",
                {"batch": [body for _, _, body in chunk]},
                tuple((mid, lead.id) for mid, lead, _ in chunk),
            )
        )
    return calls


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


def pool_limits(concurrency: int) -> httpx.Limits:
    """One kept-alive connection per request in flight, as a tracker fleet's proxy holds."""
    return httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)


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


def _wrk_command(base_url: str, key: str, ids: Path, prefix: str, count: int, c: int) -> list[str]:
    assert WRK is not None
    return [
        WRK, "-t", str(WRK_THREADS), "-c", str(c), "-d", f"{SEND_LIMIT:.0f}s", "--timeout", "30s",
        "-H", f"Authorization: Bearer {key}", "-s", str(WRK_SCRIPT), base_url,
        "--", str(ids), prefix, str(count), str(WRK_THREADS),
    ]  # fmt: skip


async def wrk_track(
    base_url: str, key: str, leads: Sequence[Lead], prefix: str, count: int, concurrency: int
) -> Load:
    """`count` single events from wrk and bench/track.lua: the same messageIds and leads as
    spread(prefix, …). A C event loop in its own process costs a fraction of a millisecond
    per request, so the rate is the API's, not the load generator's as with httpx here.

    The script stops each wrk thread at its last answer and says so on stderr; wrk's main
    thread would sleep out -d all the same, so SIGINT wakes it to print its summary."""
    with tempfile.NamedTemporaryFile("w", prefix="wrk-ids-", suffix=".txt") as ids:
        ids.write("".join(f"{lead.external_id}\n" for lead in leads))
        ids.flush()
        command = _wrk_command(base_url, key, Path(ids.name), prefix, count, concurrency)
        load = Load(first_sent=time.time(), generator="wrk")
        process = await asyncio.create_subprocess_exec(
            *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        stopped, noise = 0, []
        while stopped < WRK_THREADS and (line := await process.stderr.readline()):
            if line.startswith(b"track.lua: thread done"):
                stopped += 1
            else:
                noise.append(line.decode(errors="replace").rstrip())
        load.last_answered = time.time()
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        out, err = await process.communicate()
    noise += err.decode(errors="replace").splitlines()
    summary = next(
        (json.loads(x) for x in reversed(out.decode().splitlines()) if x[:1] == "{"), None
    )
    if summary is None:
        raise RuntimeError(f"wrk printed no summary: {out.decode()} {' '.join(noise)}")
    _wrk_into(load, summary, count)
    return load


def _wrk_into(load: Load, summary: dict[str, Any], count: int) -> None:
    """wrk's summary as a Load: 2xx answers, other statuses and socket errors as failures,
    its latency percentiles (wrk corrects them for coordinated omission)."""
    load.accepted = summary["ok"]
    load.percentiles = {q: summary["latency_us"][f"p{q * 100:.0f}"] / 1e6 for q in (0.5, 0.99)}
    if summary["answered"] > summary["ok"]:
        load.failures["HTTP non-2xx"] = summary["answered"] - summary["ok"]
    for kind in ("connect", "read", "write", "timeout"):
        if summary["errors"][kind]:
            load.failures[f"wrk {kind} errors"] = summary["errors"][kind]
    if summary["answered"] < count:
        load.failures["not answered by the time limit"] = count - summary["answered"]
    if summary["new"] != summary["ok"]:
        load.failures["2xx but not new (duplicates)"] = summary["ok"] - summary["new"]


# ---- waiting for the work to be done ------------------------------------------------------


async def until(
    what: str, check: Callable[[], Awaitable[bool]], limit: float = DRAIN_LIMIT
) -> bool:
    """Poll `check` until it holds; False (and a line saying so) if it did not in time."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            print(f"  ! {what}: not done after {limit:.0f} s", flush=True)
            return False
        await asyncio.sleep(POLL)
    return True


async def bounded(items: Sequence[T], call: Callable[[T], Awaitable[Any]], limit: int) -> list[Any]:
    """Run `call` on every item with at most `limit` in flight; results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with gate:
            return await call(item)

    return await asyncio.gather(*(one(item) for item in items))


async def handled_by(
    what: str,
    ids: Sequence[str],
    check: Callable[[str], Awaitable[datetime | None]],
    concurrency: int,
) -> datetime | None:
    """Query each workflow until it has handled all its events; the latest handling time
    (workflow time, so the polling adds no latency to the rate), or None on time-out."""
    pending = list(ids)
    latest: datetime | None = None
    deadline = time.monotonic() + DRAIN_LIMIT
    while pending:
        results = await bounded(pending, check, concurrency)
        for at in results:
            if at is not None and (latest is None or at > latest):
                latest = at
        pending = [wid for wid, at in zip(pending, results, strict=True) if at is None]
        if pending:
            if time.monotonic() > deadline:
                print(f"  ! {what}: {len(pending)} of {len(ids)} still behind", flush=True)
                return None
            await asyncio.sleep(POLL)
    return latest


# ---- delivery: the relay and its floor ----------------------------------------------------


@dataclass
class Delivered:
    """Outbox rows of a phase, and when the journeys had handled them all."""

    rows: int = 0
    marked_by: datetime | None = None  # the last `delivered_at` the relays wrote
    handled_by: datetime | None = None  # workflow time of the last event handled
    signalled_twice: int = 0  # rows marked by both relays (attempts > 1)
    rounds: list[int] = field(default_factory=list)  # rows per relay round (one `now` each)
    round_gaps: list[float] = field(default_factory=list)  # seconds between rounds
    cpu: Cpu = field(default_factory=Cpu)  # from the last request answered to all handled


def outbox(store: Store, prefix: str) -> tuple[int, int]:
    """(rows, rows delivered) of the events whose ids start with `prefix`."""
    with store.session() as session:
        total, done = session.execute(
            select(func.count(), func.count(Delivery.delivered_at)).where(
                Delivery.event_id.like(f"{prefix}-%")
            )
        ).one()
    return int(total), int(done)


def stored_events(store: Store, prefix: str) -> Counter[str]:
    """Events whose ids start with `prefix` in the store, by lead: what the API accepted."""
    with store.session() as session:
        rows = session.execute(
            select(Event.lead_id, func.count())
            .where(Event.event_id.like(f"{prefix}-%"))
            .group_by(Event.lead_id)
        ).all()
    return Counter({str(lead): int(n) for lead, n in rows})


def relay_rounds(store: Store, prefix: str, delivered: Delivered) -> None:
    """The relay marks a round's rows with one timestamp: rows per distinct `delivered_at`
    are its round sizes (a row both relays marked counts in the later round)."""
    with store.session() as session:
        rounds = session.execute(
            select(Delivery.delivered_at, func.count())
            .where(Delivery.event_id.like(f"{prefix}-%"), Delivery.delivered_at.is_not(None))
            .group_by(Delivery.delivered_at)
            .order_by(Delivery.delivered_at)
        ).all()
        delivered.signalled_twice = int(
            session.scalar(
                select(func.count()).where(
                    Delivery.event_id.like(f"{prefix}-%"), Delivery.attempts > 1
                )
            )
            or 0
        )
    marked = [(as_utc(at), int(n)) for at, n in rounds if at is not None]
    delivered.rounds = [n for _, n in marked]
    times = [at.timestamp() for at, _ in marked]
    delivered.round_gaps = [b - a for a, b in itertools.pairwise(times)]
    if marked:
        delivered.marked_by = marked[-1][0]


async def nurture_delivery(
    client: Client, store: Store, prefix: str, expected: Counter[str], concurrency: int
) -> Delivered:
    """Wait for the outbox to empty, then for every journey's score to count its events."""
    delivered = Delivered()

    async def relayed() -> bool:
        delivered.rows, done = await asyncio.to_thread(outbox, store, prefix)
        return done >= delivered.rows

    if not await until(f"{prefix}: outbox", relayed):
        return delivered
    await asyncio.to_thread(relay_rounds, store, prefix, delivered)

    async def check(lead_id: str) -> datetime | None:
        state = await journey_state(client, PRODUCT, lead_id)
        if state.score.total < expected[lead_id]:
            return None
        return max(entry.at for entry in state.timeline if entry.kind == "event")

    delivered.handled_by = await handled_by(
        f"{prefix}: journeys", list(expected), check, concurrency
    )
    return delivered


def behavior(key: str) -> BehaviorEvent:
    return BehaviorEvent(event_id=key, type="bench_event", occurred_at=datetime.now(UTC))


@dataclass
class Floor:
    signals: int = 0
    seconds: float = math.nan
    cpu: Cpu = field(default_factory=Cpu)

    @property
    def rate(self) -> float:
        return self.signals / self.seconds


async def floor_signals(
    client: Client, ids: Sequence[str], per: Counter[str], tag: str, concurrency: int
) -> Floor:
    """Bare Temporal: the same number of signals per workflow as the journeys got, one
    signal per event, sent from this process at the same concurrency."""
    sends = [(wid, n) for n in range(max(per.values())) for wid in ids if n < per[wid]]
    start = time.time()
    await bounded(
        sends,
        lambda s: client.get_workflow_handle(s[0]).signal("behavior", behavior(f"{tag}-{s[1]}")),
        concurrency,
    )

    async def check(wid: str) -> datetime | None:
        state = await client.get_workflow_handle(wid).query("state", result_type=BareState)
        return state.last_signal_at if state.signals >= per[wid] else None

    last = await handled_by("bare signals", ids, check, concurrency)
    return Floor(len(sends), (last.timestamp() - start) if last else math.nan)


@dataclass
class SignalSizes:
    """What the relays sent a sample of journeys, from their histories."""

    journeys: int = 0
    signals: int = 0  # `behaviors` signals carrying events of the phase
    events: int = 0  # events in them, repeats included
    repeats: int = 0  # events a journey received more than once

    @property
    def per_signal(self) -> float:
        return self.events / self.signals if self.signals else 0.0


async def signal_sizes(client: Client, workflow_ids: Sequence[str], prefix: str) -> SignalSizes:
    signaled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    sizes = SignalSizes(journeys=len(workflow_ids))
    for wid in workflow_ids:
        seen: Counter[str] = Counter()
        for e in (await client.get_workflow_handle(wid).fetch_history()).events:
            if e.event_type != signaled:
                continue
            attrs = e.workflow_execution_signaled_event_attributes
            if attrs.signal_name != "behaviors" or not attrs.input.payloads:
                continue
            ids = [item["event_id"] for item in json.loads(attrs.input.payloads[0].data)]
            ours = [i for i in ids if i.startswith(f"{prefix}-")]
            if ours:
                sizes.signals += 1
                sizes.events += len(ours)
                seen.update(ours)
        sizes.repeats += sum(n - 1 for n in seen.values())
    return sizes


# ---- triggers -----------------------------------------------------------------------------


@dataclass
class TriggerPath:
    """Where a trigger's time goes after the relay's signal, from a sample of histories."""

    to_task: list[float] = field(default_factory=list)  # signal → workflow task started
    task: list[float] = field(default_factory=list)  # that task started → completed
    to_schedule: list[float] = field(default_factory=list)  # signal → send_email scheduled
    before: Counter[str] = field(default_factory=Counter)  # activities scheduled in between
    queued: list[float] = field(default_factory=list)  # send_email scheduled → started
    activity: list[float] = field(default_factory=list)  # send_email started → completed
    signals: int = 0


async def trigger_path(client: Client, workflow_ids: Sequence[str], prefix: str) -> TriggerPath:
    """Split signal → email sent at the history's events: the task queue, the worker's
    workflow task, whatever runs before the send, the activity queue, the send itself."""
    path = TriggerPath()
    for wid in workflow_ids:
        _add_path(
            list((await client.get_workflow_handle(wid).fetch_history()).events), prefix, path
        )
    return path


def _trigger_ids(event: HistoryEvent, prefix: str) -> list[str]:
    """The ids of this phase's events in a `behaviors` signal (none for other events)."""
    if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        return []
    attrs = event.workflow_execution_signaled_event_attributes
    if attrs.signal_name != "behaviors" or not attrs.input.payloads:
        return []
    items = json.loads(attrs.input.payloads[0].data)
    return [item["event_id"] for item in items if item["event_id"].startswith(f"{prefix}-")]


def _add_path(events: Sequence[HistoryEvent], prefix: str, path: TriggerPath) -> None:
    """The journey's k-th event of the phase pairs with its email `trigger:…#k`, not with the
    next send_email scheduled: once the emails lag more than a lead's events are apart (3 s
    here), that is the previous event's email, and the split would come out too short."""
    kind = EventType
    at = {e.event_id: e.event_time.ToDatetime().timestamp() for e in events}
    sends: dict[int, HistoryEvent] = {}  # k → its send_email scheduled
    others: list[tuple[int, str]] = []  # (event id, name) of other activities scheduled
    started: dict[int, HistoryEvent] = {}  # scheduled event id → activity started
    completed: dict[int, HistoryEvent] = {}  # scheduled event id → activity completed
    for e in events:
        if e.event_type == kind.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = e.activity_task_scheduled_event_attributes
            key = _send_key(attrs.input.payloads)
            if attrs.activity_type.name == "send_email" and key.startswith("trigger:"):
                sends[int(key.rsplit("#", 1)[1])] = e
            else:
                others.append((e.event_id, attrs.activity_type.name))
        elif e.event_type == kind.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[e.activity_task_started_event_attributes.scheduled_event_id] = e
        elif e.event_type == kind.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed[e.activity_task_completed_event_attributes.scheduled_event_id] = e
    k = 0
    for i, e in enumerate(events):
        ours = _trigger_ids(e, prefix)
        if not ours:
            continue
        path.signals += 1
        _add_task(events[i + 1 :], at, at[e.event_id], path)
        for _ in ours:
            k += 1
            send = sends.get(k)
            if send is None:
                continue
            path.to_schedule.append(at[send.event_id] - at[e.event_id])
            path.before.update(name for n, name in others if e.event_id < n < send.event_id)
            if send.event_id in started:
                begun = started[send.event_id]
                path.queued.append(at[begun.event_id] - at[send.event_id])
                if send.event_id in completed:
                    path.activity.append(at[completed[send.event_id].event_id] - at[begun.event_id])


def _send_key(payloads: Sequence[Any]) -> str:
    """send_email's send key from its input (SendEmailInput as JSON); '' for others."""
    data = json.loads(payloads[0].data) if payloads else None
    return str(data.get("send_key", "")) if isinstance(data, dict) else ""


def _add_task(
    later: Sequence[HistoryEvent], at: dict[int, float], signalled: float, path: TriggerPath
) -> None:
    """The first workflow task after a signal: when it started, how long it ran."""
    kind = EventType
    task = next((x for x in later if x.event_type == kind.EVENT_TYPE_WORKFLOW_TASK_STARTED), None)
    if task is None:
        return
    path.to_task.append(at[task.event_id] - signalled)
    done = next(
        (
            x
            for x in later
            if x.event_type == kind.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            and x.workflow_task_completed_event_attributes.started_event_id == task.event_id
        ),
        None,
    )
    if done is not None:
        path.task.append(at[done.event_id] - at[task.event_id])


@dataclass
class Triggers:
    posted: int = 0
    emails: int = 0
    unmatched: int = 0  # events of leads whose sends did not pair one to one (cool-down)
    latencies: list[float] = field(default_factory=list)  # POST → sent_at
    to_relay: list[float] = field(default_factory=list)  # POST → delivered_at (relay signalled)
    to_send: list[float] = field(default_factory=list)  # delivered_at → sent_at
    path: TriggerPath = field(default_factory=TriggerPath)
    solo: list[float] = field(default_factory=list)  # POST → sent_at, one at a time


def trigger_sends(store: Store, lead_ids: Sequence[str]) -> list[tuple[str, int, datetime]]:
    with store.session() as session:
        rows = session.execute(
            select(Send.lead_id, Send.send_key, Send.sent_at).where(
                Send.product == TRIGGER_PRODUCT,
                Send.mail_type == "trigger",
                Send.status == "sent",
                Send.lead_id.in_(lead_ids),
            )
        ).all()
    return [(lead, int(key.rsplit("#", 1)[1]), as_utc(at)) for lead, key, at in rows if at]


def delivered_at(store: Store, prefix: str) -> dict[str, datetime]:
    with store.session() as session:
        rows = session.execute(
            select(Delivery.event_id, Delivery.delivered_at).where(
                Delivery.event_id.like(f"{prefix}-%"), Delivery.delivered_at.is_not(None)
            )
        ).all()
    return {event_id: as_utc(at) for event_id, at in rows if at}


async def trigger_latency(
    http: httpx.AsyncClient,
    store: Store,
    leads: Sequence[Lead],
    tag: str,
    rate: float,
    seconds: float,
    concurrency: int,
) -> Triggers:
    """Each lead's k-th event fires its k-th trigger email (send key `#k`), as long as its
    events are further apart than the 1 s cool-down: leads × 1/rate s apart here."""
    events = spread(tag, round(rate * seconds), leads, "Bench Trigger")
    load = await paced(http, singles(events), rate, concurrency)
    result = Triggers(posted=load.accepted)
    lead_ids = [lead.id for lead in leads]

    async def all_sent() -> bool:
        result.emails = len(await asyncio.to_thread(trigger_sends, store, lead_ids))
        return result.emails >= load.accepted

    await until("trigger emails", all_sent)
    rows = await asyncio.to_thread(trigger_sends, store, lead_ids)
    relayed = await asyncio.to_thread(delivered_at, store, tag)
    posted: dict[str, list[str]] = defaultdict(list)  # lead → its message ids, in send order
    for message_id, lead, _ in events:
        if message_id in load.sent_at:
            posted[lead.id].append(message_id)
    emails: dict[str, dict[int, datetime]] = defaultdict(dict)
    for lead_id, k, at in rows:
        emails[lead_id][k] = at
    for lead_id, message_ids in posted.items():
        if len(emails[lead_id]) != len(message_ids):
            result.unmatched += len(message_ids)
            continue
        for k, message_id in enumerate(message_ids, start=1):
            post = load.sent_at[message_id]
            sent = emails[lead_id][k].timestamp()
            result.latencies.append(sent - post)
            if message_id in relayed:
                result.to_relay.append(relayed[message_id].timestamp() - post)
                result.to_send.append(sent - relayed[message_id].timestamp())
    return result


async def _new_email(store: Store, lead_id: str, known: set[int]) -> datetime | None:
    rows = await asyncio.to_thread(trigger_sends, store, [lead_id])
    return min((at for _, k, at in rows if k not in known), default=None)


async def solo_triggers(
    http: httpx.AsyncClient, store: Store, leads: Sequence[Lead], tag: str
) -> list[float]:
    """One trigger event at a time, each awaited to its email: the path's own latency with
    nothing queued ahead of it, beside the latency at the steady rate."""
    latencies = []
    for n, lead in enumerate(leads):
        known = {k for _, k, _ in await asyncio.to_thread(trigger_sends, store, [lead.id])}
        message_id = f"{tag}-{n}"
        body = track_body(message_id, str(lead.external_id), "Bench Trigger", n)
        load = await drive(http, [Call("/v1/track", body, ((message_id, lead.id),))], 1)
        deadline = time.monotonic() + 10
        while load.accepted and time.monotonic() < deadline:
            sent = await _new_email(store, lead.id, known)
            if sent is not None:
                latencies.append(sent.timestamp() - load.first_sent)
                break
            await asyncio.sleep(0.05)
    return latencies


# ---- the store's work per request: an instrumented in-process pass ------------------------


@dataclass
class DbWork:
    """What one request made the store do, counted by SQLAlchemy events."""

    requests: int = 0
    checkouts: int = 0  # each a pre-ping round trip (pool_pre_ping=True)
    transactions: int = 0  # each a BEGIN and a COMMIT round trip beyond its statements
    statements: int = 0
    execute_seconds: float = 0.0  # inside cursor.execute: the statements (and implicit BEGIN)
    commit_seconds: float = 0.0  # COMMIT round trips (and the WAL flush of writing ones)
    ping_seconds: float = 0.0  # pre-ping `SELECT 1` round trips at checkout
    wall_seconds: float = 0.0

    def per(self, value: float) -> float:
        return value / self.requests if self.requests else 0.0


@contextmanager
def counted(engine: Engine) -> Iterator[DbWork]:
    work = DbWork()
    started: dict[str, float] = {}

    def checkout(*_: Any) -> None:
        work.checkouts += 1

    def begin(_: Any) -> None:
        work.transactions += 1

    def before(*_: Any) -> None:
        work.statements += 1
        started["execute"] = time.perf_counter()

    def after(*_: Any) -> None:
        work.execute_seconds += time.perf_counter() - started.pop("execute", time.perf_counter())

    def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                setattr(work, name, getattr(work, name) + time.perf_counter() - start)

        return wrapper

    dialect: Any = engine.dialect  # instance attributes shadow the dialect's methods
    dialect.do_commit = timed("commit_seconds", dialect.do_commit)
    dialect.do_ping = timed("ping_seconds", dialect.do_ping)
    hooks: list[tuple[Any, str, Callable[..., None]]] = [
        (engine.pool, "checkout", checkout),
        (engine, "begin", begin),
        (engine, "before_cursor_execute", before),
        (engine, "after_cursor_execute", after),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield work
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)
        del dialect.do_commit, dialect.do_ping


async def store_work(
    settings: Settings, key: str, leads: Sequence[Lead], tag: str
) -> dict[str, DbWork]:
    """The API's own code on the same database, one request at a time, without the relay
    (the uvicorn relays deliver what it stores), so the counters see one request each."""
    app = create_app(settings, relay=False)
    results: dict[str, DbWork] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://nurture", headers=headers
        ) as http:
            kinds = {
                "single": singles(spread(f"{tag}-s", PROFILE_SINGLES, leads, "Bench Event")),
                f"batch of {BATCH_SIZE}": batches(
                    spread(f"{tag}-b", PROFILE_BATCHES * BATCH_SIZE, leads, "Bench Event")
                ),
            }
            for kind, calls in kinds.items():
                await http.post(calls[0].path, json=calls[0].body)  # warm: compile, connect
                with counted(app.state.store.engine) as work:
                    for call in calls[1:]:
                        started = time.perf_counter()
                        response = await http.post(call.path, json=call.body)
                        work.wall_seconds += time.perf_counter() - started
                        response.raise_for_status()
                        work.requests += 1
                results[kind] = work
    return results


# ---- the stack ----------------------------------------------------------------------------


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh database for this run, dropped whatever happens."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"nurture_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def service_env(settings: Settings) -> dict[str, str]:
    """The settings as NURTURE_* variables (nurture/config.py reads them), for the API and
    worker processes, with this run's bytecode cache as an installed image has one (the
    sandbox re-imports the journey module for every workflow run: see cache_bytecode)."""
    env = {
        **os.environ,
        "NURTURE_DATABASE_URL": settings.database_url,
        "NURTURE_TEMPORAL_ADDRESS": settings.temporal_address,
        "NURTURE_SCENARIOS_DIR": str(settings.scenarios_dir),
        "NURTURE_OUTBOX_DIR": str(settings.outbox_dir),
        "NURTURE_TASK_QUEUE": settings.task_queue,
        "NURTURE_FREQUENCY_CAP_PER_WEEK": str(settings.frequency_cap_per_week),
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if sys.pycache_prefix:
        env["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
    return env


@contextmanager
def service(command: Sequence[str], env: dict[str, str], log_path: Path) -> Iterator[Any]:
    """A process of the stack, logging to `log_path`, stopped (SIGTERM) at the end.

    Its own session, so a child left behind by a hung shutdown is stopped by group id.
    """
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=BENCH_DIR.parent,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def api_server(settings: Settings, log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """uvicorn with 2 workers, as `nurture api --workers 2` runs it."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "nurture.api.app:app_from_env", "--factory",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with service(command, service_env(settings), log_path) as process:
        yield f"http://127.0.0.1:{port}", process


def nurture_command() -> list[str]:
    """The `nurture` console script beside this Python, as an installed worker runs."""
    script = Path(sys.executable).with_name("nurture")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nurture.cli"]


@contextmanager
def worker_processes(settings: Settings, logs: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """The Nurture worker as deployed, journeys and activities in one process each, and the
    floor's worker in a third (see the module docstring); logs in `logs`."""
    commands = {
        "workflows": [*nurture_command(), "worker", "--role", "workflows"],
        "activities": [*nurture_command(), "worker", "--role", "activities"],
        "bare": [sys.executable, str(BENCH_DIR / "bare_worker.py"), BARE_QUEUE],
    }
    env = service_env(settings)
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(service(command, env, logs / f"worker-{name}.log"))
            for name, command in commands.items()
        }


async def _pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
        )
    )
    return len(response.pollers)


async def workers_ready(client: Client, processes: dict[str, subprocess.Popen], logs: Path) -> None:
    """Each worker process polls its task queue: journeys and the floor's workflows their
    workflow tasks, the activities process the activity tasks."""
    polls = {
        "workflows": (NURTURE_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        "activities": (NURTURE_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
        "bare": (BARE_QUEUE, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    }
    for _ in range(300):
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"worker {name} exited; see {logs / f'worker-{name}.log'}")
        counts = [await _pollers(client, queue, kind) for queue, kind in polls.values()]
        if all(counts):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the workers did not poll within 30 s; see the logs in {logs}")


async def api_ready(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    """/healthz answers, and both workers have a process: uvicorn is serving."""
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited; see {log_path}")
            with suppress(httpx.HTTPError):
                if (await http.get("/healthz")).status_code == 200 and (
                    len(_descendants(process.pid)) >= 2
                ):
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the API did not answer /healthz within 30 s; see {log_path}")


async def start_journeys(
    client: Client, settings: Settings, store: Store, leads: Sequence[Lead], product: str
) -> None:
    async def begin(lead: Lead) -> None:
        outcome = await start_journey(client, settings, store, lead, product)
        if not outcome.started:
            raise RuntimeError(f"{outcome.journey_id}: {outcome.message}")

    await bounded(leads, begin, 8)  # as an importer would; more only queues in the worker


def first_emails(store: Store) -> int:
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(Send.mail_type == "step", Send.status == "sent")
            )
            or 0
        )


def postgres_facts(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            show = {
                name: connection.execute(text(f"SHOW {name}")).scalar()
                for name in ("server_version", "synchronous_commit", "fsync", "max_connections")
            }
    finally:
        engine.dispose()
    return (
        f"PostgreSQL {show['server_version']} · synchronous_commit={show['synchronous_commit']}"
        f" · fsync={show['fsync']} · max_connections={show['max_connections']}"
    )


def server_stack() -> str:
    """What uvicorn serves with: without uvloop/httptools it runs asyncio and h11."""
    extras = []
    for module in ("uvloop", "httptools"):
        try:
            __import__(module)
            extras.append(f"{module} yes")
        except ImportError:
            extras.append(f"{module} no")
    return (
        f"uvicorn {uvicorn.__version__} ({', '.join(extras)}) · httpx {httpx.__version__} · "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )


# ---- the run ------------------------------------------------------------------------------


@dataclass
class Run:
    events: int
    leads: int
    concurrency: int
    single: Load
    batched: Load
    single_delivery: Delivered
    batched_delivery: Delivered
    floor: Floor
    generator: ClientFloor | None  # httpx's ceiling, measured when wrk is not there
    sizes: dict[str, SignalSizes]
    triggers: Triggers
    trigger_cpu: Cpu
    work: dict[str, DbWork]
    facts: list[str]


@dataclass
class Cohorts:
    """The run's leads: measured, triggered, warmed up, and the floor's workflows."""

    tag: str
    leads: list[Lead]
    trigger_leads: list[Lead]
    warm: list[Lead]
    warm_t: list[Lead]
    bare_ids: list[str]


def _line(label: str, value: str) -> None:
    print(f"{label:<44}{value}", flush=True)


async def cohorts(store: Store, args: argparse.Namespace) -> Cohorts:
    tag = f"i{int(time.time())}"
    return Cohorts(
        tag=tag,
        leads=await asyncio.to_thread(upsert_leads, store, tag, args.leads),
        trigger_leads=await asyncio.to_thread(upsert_leads, store, f"{tag}-t", args.trigger_leads),
        warm=await asyncio.to_thread(upsert_leads, store, f"{tag}-w", WARM_LEADS),
        warm_t=await asyncio.to_thread(upsert_leads, store, f"{tag}-wt", WARM_LEADS),
        bare_ids=[f"bare-{tag}-{i}" for i in range(args.leads)],
    )


async def start_all(client: Client, settings: Settings, store: Store, who: Cohorts) -> None:
    """Every journey and bare workflow started, and every journey past its first email."""
    await start_journeys(client, settings, store, [*who.leads, *who.warm], PRODUCT)
    await start_journeys(
        client, settings, store, [*who.trigger_leads, *who.warm_t], TRIGGER_PRODUCT
    )
    await bounded(
        who.bare_ids,
        lambda wid: client.start_workflow("BareStep", id=wid, task_queue=BARE_QUEUE),
        16,
    )
    journeys = len(who.leads) + len(who.trigger_leads) + 2 * WARM_LEADS

    async def started() -> bool:
        return await asyncio.to_thread(first_emails, store) >= journeys

    await until("first emails", started)


@dataclass
class Stack:
    """What the phases talk to: Temporal, the store, the API (httpx, or wrk at its URL)."""

    client: Client
    store: Store
    http: httpx.AsyncClient
    base_url: str
    key: str
    pids: Pids


async def warm_up(stack: Stack, who: Cohorts, concurrency: int) -> None:
    """Untimed: both API workers and relays, the journey and activity workers, the floor."""
    tag, http = who.tag, stack.http
    warm_events = spread(f"{tag}-w", 40, who.warm, "Bench Event")
    warmed = await drive(http, singles(warm_events[:20]), 8)
    warmed.per_lead += (await drive(http, batches(warm_events[20:]), 2)).per_lead
    await drive(http, singles(spread(f"{tag}-wt", WARM_LEADS, who.warm_t, "Bench Trigger")), 4)
    await nurture_delivery(stack.client, stack.store, f"{tag}-w", warmed.per_lead, concurrency)
    warm_ids = who.bare_ids[:WARM_LEADS]
    await floor_signals(stack.client, warm_ids, Counter(warm_ids), f"{tag}-w", 8)


async def floor_phase(stack: Stack, who: Cohorts, args: argparse.Namespace) -> Floor:
    per = Counter(who.bare_ids[n % args.leads] for n in range(args.events))
    with metered(stack.pids) as cpu:
        floor = await floor_signals(stack.client, list(per), per, f"{who.tag}-f", args.concurrency)
    floor.cpu = cpu
    _line("floor: bare signals", f"{floor.rate:8.1f}/s  ({floor.signals} signals)")
    return floor


async def send_phase(
    name: str, prefix: str, stack: Stack, who: Cohorts, args: argparse.Namespace
) -> Load:
    """One load phase, then the store's count of its events by lead: what the journeys must
    get, whoever counted the answers (wrk counts them, not which lead they were for)."""
    events = spread(prefix, args.events, who.leads, "Bench Event")
    calls = batches(events) if name == "batched" else singles(events)
    with metered(stack.pids) as cpu:
        if name == "single" and WRK:
            load = await wrk_track(
                stack.base_url, stack.key, who.leads, prefix, args.events, args.concurrency
            )
        else:
            load = await drive(stack.http, calls, args.concurrency)
    load.cpu = cpu
    load.per_lead = await asyncio.to_thread(stored_events, stack.store, prefix)
    load.stored = sum(load.per_lead.values())
    failed = f", failed: {dict(load.failures)}" if load.failures else ""
    _line(
        f"{name}: accepted events ({load.generator})",
        f"{load.rate:8.1f}/s  ({load.accepted} in "
        f"{load.last_answered - load.first_sent:.2f} s{failed})",
    )
    verdict = "" if load.stored == load.accepted else "   ! they differ"
    _line(f"{name}: events answered 2xx / stored", f"{load.accepted:>8} / {load.stored}{verdict}")
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
        with metered(stack.pids) as drain_cpu:
            delivered = await nurture_delivery(
                stack.client, stack.store, prefix, Counter(expected), args.concurrency
            )
        delivered.cpu = drain_cpu
        loads[name], deliveries[name] = load, delivered
        _line(f"{name}: delivered to journeys", _delivery_text(load, delivered))
    return loads, deliveries


async def trigger_phase(
    stack: Stack, who: Cohorts, args: argparse.Namespace
) -> tuple[Triggers, Cpu]:
    """Paced from this process: with the worker in its own processes, httpx at 50/s no
    longer shares a GIL with the journeys or the emails."""
    print(
        f"trigger emails at {args.trigger_rate:.0f} events/s for {args.trigger_seconds:.0f} s …",
        flush=True,
    )
    leads, tag = who.trigger_leads, f"{who.tag}-t"
    with metered(stack.pids) as cpu:
        triggers = await trigger_latency(
            stack.http,
            stack.store,
            leads,
            tag,
            args.trigger_rate,
            args.trigger_seconds,
            args.concurrency,
        )
    await asyncio.sleep(1.5)  # past the 1 s cool-down of the last triggers
    triggers.solo = await solo_triggers(stack.http, stack.store, leads[:SOLO], f"{who.tag}-s")
    step = max(1, len(leads) // SAMPLE)
    triggers.path = await trigger_path(
        stack.client, [journey_id(TRIGGER_PRODUCT, x.id) for x in leads[::step][:SAMPLE]], tag
    )
    _line(
        "trigger: POST → email sent",
        f"p50 {quantile(triggers.latencies, 0.5):.3f} s · "
        f"p99 {quantile(triggers.latencies, 0.99):.3f} s "
        f"({len(triggers.latencies)} of {triggers.posted})",
    )
    _line(
        "trigger, one at a time: POST → email sent",
        f"p50 {quantile(triggers.solo, 0.5):.3f} s · max "
        f"{max(triggers.solo, default=math.nan):.3f} s ({len(triggers.solo)} of {SOLO})",
    )
    return triggers, cpu


async def generator_ceiling(who: Cohorts, args: argparse.Namespace) -> ClientFloor | None:
    """Without wrk, the single phase is httpx's: measure its ceiling and say so."""
    if WRK:
        return None
    spread_events = spread(f"{who.tag}-n", args.events, who.leads, "Bench Event")
    generator = await client_floor(spread_events, args.concurrency)
    _line(
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
            triggers, trigger_cpu = await trigger_phase(stack, who, args)

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
        trigger_cpu=trigger_cpu,
        work=work,
        facts=facts,
    )


def load_generators(concurrency: int) -> str:
    if not WRK:
        return "load: httpx in this process for every phase (wrk not found)"
    version = subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    return (
        f"load: {version} -t{WRK_THREADS} -c{concurrency} (single, bench/track.lua) · httpx "
        "in this process (batched, triggers) · the Temporal client here (floor, polling)"
    )


def delivery_seconds(load: Load, delivered: Delivered) -> float:
    """First request sent → last event handled by its journey (workflow time)."""
    if delivered.handled_by is None:
        return math.nan
    return delivered.handled_by.timestamp() - load.first_sent


def delivered_events(load: Load) -> int:
    """The events the journeys got: those in the store (see send_phase)."""
    return load.stored if load.stored is not None else load.accepted


def delivery_rate(load: Load, delivered: Delivered) -> float:
    seconds = delivery_seconds(load, delivered)
    return delivered_events(load) / seconds if seconds > 0 else math.nan


def _delivery_text(load: Load, delivered: Delivered) -> str:
    seconds = delivery_seconds(load, delivered)
    if math.isnan(seconds):
        return "   not done (see above)"
    rate = delivery_rate(load, delivered)
    return f"{rate:8.1f}/s  ({delivered_events(load)} handled {seconds:.2f} s)"


# ---- the report ---------------------------------------------------------------------------


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


def _generator_row(run: Run) -> tuple[str, str, str, str]:
    """wrk's CPU per request, or httpx's ceiling when it sent the single events."""
    if run.generator is not None:
        return ("  httpx ceiling (no-op server), requests/s", f"{run.generator.rate:.1f}", "", "")
    s = run.single
    per = s.cpu.wrk / s.accepted * 1000 if s.accepted else math.nan
    return ("  load generator: wrk, CPU ms per request", f"{per:.3f}", "", "")


def shared_with_others(phases: Sequence[tuple[str, Cpu, int]]) -> None:
    """Say so when processes outside the stack took a noticeable share of the cores."""
    busy = {name.strip(): c.other / c.wall for name, c, _ in phases if c.wall}
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
    phases = [
        ("floor", run.floor.cpu, run.floor.signals),
        ("single", run.single.cpu, run.single.accepted),
        ("  drain", run.single_delivery.cpu, run.single.accepted),
        ("batched", run.batched.cpu, run.batched.accepted),
        ("  drain", run.batched_delivery.cpu, run.batched.accepted),
        ("trigger", run.trigger_cpu, run.triggers.posted),
    ]
    print(
        "\nCPU by process (the 'drain' phases run from the last answer until every journey "
        "has handled its events)"
    )
    print(f"{'':<32}" + "".join(f"{name:>12}" for name, _, _ in phases))
    print(f"{'wall seconds':<32}" + "".join(f"{c.wall:>12.2f}" for _, c, _ in phases))
    print(f"{'events (floor: signals)':<32}" + "".join(f"{n:>12}" for _, _, n in phases))

    def workers(c: Cpu) -> str:
        """The two busiest uvicorn processes (the workers; the supervisor idles)."""
        busiest = sorted(c.api.values(), reverse=True)[:2]
        return " + ".join(f"{v / c.wall:.2f}" for v in busiest) if c.wall else "-"

    groups: list[tuple[str, Callable[[Cpu], float]]] = [
        ("bench process (httpx, client)", lambda c: c.bench),
        ("wrk", lambda c: c.wrk),
        ("uvicorn (supervisor + workers)", lambda c: c.api_total),
        *[
            (label, lambda c, name=name: c.processes.get(name, 0.0))
            for name, label in PROCESSES.items()
        ],
        ("postgres (all backends)", lambda c: c.postgres),
        ("other processes", lambda c: c.other),
        (f"machine ({os.cpu_count()} cores)", lambda c: c.machine),
    ]
    print("busy cores (CPU s / wall s)")
    for label, pick in groups:
        cells = "".join(f"{pick(c) / c.wall if c.wall else 0:>12.2f}" for _, c, _ in phases)
        print(f"{label:<32}{cells}")
        if label.startswith("uvicorn"):
            print(f"{'  the 2 workers':<32}" + "".join(f"{workers(c):>12}" for _, c, _ in phases))
    print("CPU ms per event")
    for label, pick in groups:
        cells = "".join(f"{pick(c) / n * 1000 if n else 0:>12.2f}" for _, c, n in phases)
        print(f"{label:<32}{cells}")
    shared_with_others(phases)

    print("\nthe slowest 1% of requests: when they were sent")
    for name, load in (("single", run.single), ("batched", run.batched)):
        print(f"  {name:<10}{tail_when(load)}")

    print("\nrelays (2, one per uvicorn worker)")
    print(f"{'':<44}{'single':>12}{'batched':>12}")
    deliveries = (run.single_delivery, run.batched_delivery)
    sizes = (run.sizes["single"], run.sizes["batched"])
    rows: list[tuple[str, Sequence[str]]] = [
        ("outbox rows", [f"{d.rows}" for d in deliveries]),
        ("relay rounds that marked rows", [f"{len(d.rounds)}" for d in deliveries]),
        (
            "  rows per round, mean / max",
            [f"{_mean(d.rounds):.0f} / {max(d.rounds, default=0)}" for d in deliveries],
        ),
        (
            "  seconds between rounds, mean / max",
            [f"{_mean(d.round_gaps):.2f} / {max(d.round_gaps, default=0):.2f}" for d in deliveries],
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
        print(f"{label:<44}" + "".join(f"{v:>12}" for v in texts))

    print("\nstore work per request (in-process, one at a time, same database)")
    print(f"{'':<36}" + "".join(f"{kind:>16}" for kind in run.work))
    work_rows: list[tuple[str, Callable[[DbWork], float], str]] = [
        ("pool checkouts (pre-ping trips)", lambda w: w.per(w.checkouts), ".1f"),
        ("transactions (BEGIN+COMMIT trips)", lambda w: w.per(w.transactions), ".1f"),
        ("statements", lambda w: w.per(w.statements), ".1f"),
        ("ms in statements (cursor.execute)", lambda w: w.per(w.execute_seconds) * 1000, ".2f"),
        ("ms in COMMITs", lambda w: w.per(w.commit_seconds) * 1000, ".2f"),
        ("ms in pre-pings", lambda w: w.per(w.ping_seconds) * 1000, ".2f"),
        (
            "ms outside the driver (Python)",
            lambda w: (
                w.per(w.wall_seconds - w.execute_seconds - w.commit_seconds - w.ping_seconds) * 1000
            ),
            ".2f",
        ),
        ("ms per request, unloaded", lambda w: w.per(w.wall_seconds) * 1000, ".2f"),
    ]
    for label, value, fmt in work_rows:
        print(f"{label:<36}" + "".join(f"{value(w):>16{fmt}}" for w in run.work.values()))

    t = run.triggers
    print(f"\ntrigger latency split at the relay, s ({len(t.to_relay)} events)")
    for label, values in (
        ("POST → relay signalled (delivered_at)", t.to_relay),
        ("relay signalled → email sent", t.to_send),
        ("POST → email sent", t.latencies),
    ):
        print(
            f"{label:<40}p50 {quantile(values, 0.5):6.3f}   p99 {quantile(values, 0.99):6.3f}"
            f"   max {max(values, default=math.nan):6.3f}"
        )
    if t.unmatched:
        print(f"  ({t.unmatched} events of leads whose emails did not pair one to one: left out)")
    path = t.path
    print(f"after the relay's signal, from {path.signals} signals in {SAMPLE} histories, s")
    for label, values in (
        ("signal → workflow task started", path.to_task),
        ("workflow task started → completed", path.task),
        ("signal → send_email scheduled", path.to_schedule),
        ("send_email scheduled → started", path.queued),
        ("send_email started → completed", path.activity),
    ):
        print(
            f"{label:<40}p50 {quantile(values, 0.5):6.3f}   p99 {quantile(values, 0.99):6.3f}"
            f"   max {max(values, default=math.nan):6.3f}"
        )
    if path.before:
        print(f"  activities scheduled before the send: {dict(path.before)}")
    print(
        f"one at a time ({len(t.solo)} events): POST → email sent p50 "
        f"{quantile(t.solo, 0.5):.3f} s, max {max(t.solo, default=math.nan):.3f} s"
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def print_log_tails(paths: Sequence[Path], lines: int = 30) -> None:
    """The stack's logs when a run fails: the cause is usually in one of them."""
    for path in paths:
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            print(f"\n{path.name} (last lines):\n" + "\n".join(tail), file=sys.stderr)


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="nurture-ingest-") as tmp, bench_database() as url:
        data = Path(tmp)
        cache_note = cache_bytecode(data / "pycache")
        server = await start_dev_server(data, port=free_port(), ui_port=free_port())
        try:
            settings = Settings(
                temporal_address=server.address,
                database_url=url,
                scenarios_dir=BENCH_DIR / "scenarios",
                outbox_dir=data / "outbox",
                task_queue=NURTURE_QUEUE,
                # A lead gets a trigger email every few seconds here; the default cap (3 a
                # week) would defer all but two. A high cap keeps its check on the path.
                frequency_cap_per_week=1000,
            )
            store = Store(url)
            store.upgrade()
            run = await measure(args, settings, store, server, data)
            store.engine.dispose()
        except BaseException:
            print_log_tails([server.log_path, data / "uvicorn.log", *data.glob("worker-*.log")])
            raise
        finally:
            server.stop()
    report(run)
    print(f"\n{machine_facts()}")
    for fact in run.facts:
        print(fact)
    print(
        f"load average before the run: {' '.join(f'{v:.2f}' for v in load_before)} · "
        f"{cache_note}\ntotal run {time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per load phase (N)")
    parser.add_argument("--leads", type=int, default=200, help="leads with a journey (L)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--trigger-leads", type=int, default=150, help="leads with a trigger journey"
    )
    parser.add_argument("--trigger-rate", type=float, default=50.0, help="trigger events/s")
    parser.add_argument("--trigger-seconds", type=float, default=10.0, help="trigger phase")
    args = parser.parse_args()
    if min(args.events, args.leads, args.concurrency, args.trigger_leads) < 1:
        parser.error("--events, --leads, --concurrency and --trigger-leads must be at least 1")
    if args.trigger_leads / args.trigger_rate <= 1.5:
        parser.error("a trigger lead's events must be > 1.5 s apart (the cool-down is 1 s)")
    asyncio.run(main(args))
