"""Many sleeping journeys: what each costs to start, to keep and to wake, beside the floor.

    .venv/bin/python -m bench.scale [--leads 50000] [--signals 3000] [--cache 1000] [--quick]

One fresh dev server (WAL pragmas, in a temp dir), a SQLite store, and the workers as
deployed, each a process of its own (bench/ingest/stack.py): `nurture worker --role
workflows`, `--role activities`, and the floor's bare worker (bench/bare_worker.py), all
with a sticky cache of `--cache` workflows, far fewer than the journeys.

  1. start: the leads, as a CSV through `starter.py --csv` (what a team does with a
     trade-show list): starts/s, until each journey's first email; then every history is
     read and its workflow task timeouts counted (the issue: none for 10,000 leads);
  2. sleep: server disk per journey, against as many bare workflows (one activity and a
     30-day timer) started the same way; the journey worker's RSS (bounded by its cache,
     not by the journeys: compare two runs of different sizes);
  3. wake: `--signals` behaviour events to journeys picked at random (most of them out of
     the cache, so each replays its history first) against as many signals to random bare
     workflows: the ratio;
  4. a journey-year on the time-skipping server: a quiet lead (an event a week) and a busy
     one (ten events a day, each its own signal), the runs continue-as-new splits their
     histories into, and the longest: the bound every history stays under.

CPU per journey start and per signal, by process, is printed for the capacity model in
docs/benchmarks.md#capacity, which is checked against a second run of another size.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from bench.harness import cli
from bench.harness.cpu import (
    Result,
    Usage,
    machine_cpu,
    metered,
    process_cpu,
    readable,
    reaped_children_cpu,
)
from bench.harness.databases import sqlite_url, upgraded_store, upsert_leads
from bench.harness.report import machine_facts, print_line, print_ratios
from bench.harness.temporal import (
    bare_signals,
    behavior_event,
    cache_bytecode,
    dev_server,
    run_settings,
    temporal_versions,
)
from bench.harness.waiting import latest_handled, pool, until
from bench.ingest.config import BARE_QUEUE, NURTURE_QUEUE, PRODUCT, REPO
from bench.ingest.stack import service_env, worker_processes, workers_ready
from nurture.cli.devstack import connect_ready
from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.journey.client import journey_state, send_behavior, start_journey
from nurture.journey.contract import journey_id
from nurture.store.engine import Store
from nurture.store.models import Lead
from nurture.temporal import connect, time_skipping_server
from nurture.worker_setup import build_worker

CONCURRENCY = 50  # signals and queries in flight
SECONDS_PER_START = 0.25  # the limit for a phase of starts: generous, a run fails otherwise
SAMPLE_YEAR_DAYS = 365
BUSY_PER_DAY = 10


def write_csv(path: Path, tag: str, count: int) -> None:
    """Email and name only: no fit fields, so a journey's score is its event count."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name"])
        for i in range(count):
            writer.writerow([f"{tag}-{i}@bench.example", f"Bench {i}"])


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process (VmRSS), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def disk_mib(data: Path) -> float:
    """The dev server's database, its WAL included."""
    return sum(p.stat().st_size for p in data.glob("temporal.db*")) / 2**20


def lead_ids(store: Store, tag: str) -> list[str]:
    with store.session() as session:
        return [
            lead.id
            for lead in session.query(Lead).filter(Lead.email.like(f"{tag}-%")).order_by(Lead.id)
        ]


async def first_emails(store: Store) -> int:
    from bench.ingest.stack import first_emails as count

    return await asyncio.to_thread(count, store)


async def start_by_csv(settings: Settings, csv_path: Path, logs: Path) -> float:
    """`starter.py --csv` as a team runs it; its wall seconds."""
    command = [sys.executable, "starter.py", "--product", PRODUCT, "--csv", str(csv_path),
               "--consent-basis", "opt_in_form", "--consent-wording", "bench lead"]  # fmt: skip
    begun = time.perf_counter()
    with (logs / "starter.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=service_env(settings), stdout=log, stderr=log
        )
        code = await process.wait()
    if code != 0:
        raise RuntimeError(f"starter.py exited {code}; see {logs / 'starter.log'}")
    return time.perf_counter() - begun


async def task_timeouts(client: Client, ids: Sequence[str]) -> tuple[Counter[str], list[int]]:
    """Workflow task timeouts (and other task failures) over every history, and each
    history's length."""
    counted: Counter[str] = Counter()
    lengths: list[int] = []

    async def read(wid: str) -> None:
        history = await client.get_workflow_handle(wid).fetch_history()
        lengths.append(len(history.events))
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                counted["workflow task timed out"] += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                counted["workflow task failed"] += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                counted["activity timed out"] += 1

    await pool(ids, read, CONCURRENCY)
    return counted, lengths


def picks(ids: Sequence[str], count: int, seed: int) -> dict[str, int]:
    """`count` picks at random (with repeats), as signals to sleeping leads come."""
    chosen = random.Random(seed).choices(ids, k=count)
    return dict(Counter(chosen))


async def journey_signals(client: Client, per: dict[str, int], tag: str) -> Result:
    """One behaviour event per pick; done when every journey scored its events."""
    sends = [(lead, n) for lead, k in per.items() for n in range(k)]
    random.Random(7).shuffle(sends)
    begun = time.time()
    await pool(
        sends,
        lambda s: send_behavior(client, PRODUCT, s[0], behavior_event(f"{tag}-{s[0]}-{s[1]}")),
        CONCURRENCY,
    )

    async def check(lead_id: str) -> datetime | None:
        try:
            state = await journey_state(client, PRODUCT, lead_id)
        except RPCError:  # a query that timed out behind the load: ask again next round
            return None
        if state.score.total < per[lead_id]:
            return None
        return max(entry.at for entry in state.timeline if entry.kind == "event")

    limit = max(120.0, len(sends) * 0.1)
    last = await latest_handled(
        "journey signals", list(per), check, concurrency=CONCURRENCY, limit=limit, window=200
    )
    return Result(len(sends), last.timestamp() - begun if last else float("nan"))


def cpu_line(usage: Usage, per: int, what: str) -> str:
    parts = [
        f"{name} {1000 * usage.cpu[name] / per:.1f}"
        for name in ("workflows", "activities", "bare", "server", "starter")
        if usage.cpu.get(name)
    ]
    return f"CPU ms per {what}: " + ", ".join(parts) + f" (wall {usage.wall:.0f} s)"


async def sleeping_phases(args: argparse.Namespace, data: Path) -> None:
    leads, signals, cache = args.leads, args.signals, args.cache
    tag = f"s{int(time.time())}"
    with upgraded_store(sqlite_url(data)) as store:
        async with dev_server(data) as server:
            settings = run_settings(
                server,
                data,
                sqlite_url(data),
                task_queue=NURTURE_QUEUE,
                worker_max_cached_workflows=cache,
            )
            client = await connect_ready(settings)
            with worker_processes(settings, data) as processes:
                await workers_ready(client, processes, data)
                pids = {name: p.pid for name, p in processes.items()}
                server_pid = server.process.pid if server.process else None

                def snapshot() -> dict[str, float]:
                    return readable(
                        **{name: process_cpu(pid) for name, pid in pids.items()},
                        server=process_cpu(server_pid, with_children=True),
                        starter=reaped_children_cpu(),
                        machine=machine_cpu(),
                    )

                print_line("journey worker RSS before", f"{rss_mib(pids['workflows']):.0f} MiB")
                csv_path = data / "leads.csv"
                write_csv(csv_path, tag, leads)
                disk_before = disk_mib(data)
                with metered(snapshot) as usage:
                    seconds = await start_by_csv(settings, csv_path, data)
                    print_line("starter.py --csv", f"{leads / seconds:.1f} starts/s")
                    done = await until(
                        "first emails",
                        lambda: _at_least(store, leads),
                        max(120.0, leads * SECONDS_PER_START),
                    )
                if not done:
                    raise TimeoutError("not every journey sent its first email")
                starts = Result(leads, usage.wall)
                print_line("start → every first email", f"{starts.rate:.1f} journeys/s")
                print_line("", cpu_line(usage, leads, "journey"))
                await asyncio.sleep(2)  # let the last tasks' writes land before measuring disk
                journey_disk = (disk_mib(data) - disk_before) * 1024 / leads
                ids = [journey_id(PRODUCT, lead) for lead in lead_ids(store, tag)]
                counted, lengths = await task_timeouts(client, ids)
                print_line(
                    "task timeouts and failures",
                    ", ".join(f"{k}: {v}" for k, v in counted.items()) or "none",
                )
                print_line(
                    "history events per sleeping journey", f"{sum(lengths) / len(lengths):.1f}"
                )
                print_line(
                    "journey worker RSS, all asleep", f"{rss_mib(pids['workflows']):.0f} MiB"
                )

                bare_ids = [f"bare-{tag}-{i}" for i in range(leads)]
                disk_before = disk_mib(data)
                with metered(snapshot) as usage:
                    await pool(
                        bare_ids,
                        lambda wid: client.start_workflow(
                            "BareStep", id=wid, task_queue=BARE_QUEUE
                        ),
                        8,
                    )
                    await floor_settled(client, bare_ids)
                print_line("floor starts, until each ran its step", f"{leads / usage.wall:.1f}/s")
                print_line("", cpu_line(usage, leads, "bare workflow"))
                await asyncio.sleep(2)
                bare_disk = (disk_mib(data) - disk_before) * 1024 / leads
                print_line(
                    "server disk per workflow",
                    f"journey {journey_disk:.1f} KiB, floor {bare_disk:.1f} KiB "
                    f"({journey_disk / bare_disk:.1f}×)",
                )

                journey_picks = picks([lid for lid in lead_ids(store, tag)], signals, 1)
                with metered(snapshot) as usage:
                    woken = await journey_signals(client, journey_picks, tag)
                print_line("", cpu_line(usage, signals, "journey signal"))
                with metered(snapshot) as usage:
                    bare = await bare_signals(
                        client, picks(bare_ids, signals, 1), tag,
                        concurrency=CONCURRENCY, limit=max(120.0, signals * 0.1), window=200,
                    )  # fmt: skip
                print_line("", cpu_line(usage, signals, "bare signal"))
                print_line(
                    "journey worker RSS after the signals",
                    f"{rss_mib(pids['workflows']):.0f} MiB (cache {cache} of {leads})",
                )
                print_ratios([(f"signals to random sleeping ({signals})", bare, woken)], width=44)


async def floor_settled(client: Client, bare_ids: Sequence[str]) -> None:
    """Wait until the last floor workflows started have run their step: the next phase must
    not share the cores with the floor's starts."""

    async def ran(wid: str) -> bool:
        history = await client.get_workflow_handle(wid).fetch_history()
        return any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events)

    async def all_ran() -> bool:
        return all(await pool(bare_ids[-CONCURRENCY:], ran, CONCURRENCY))

    await until("floor steps", all_ran, max(120.0, len(bare_ids) * 0.05))


async def _at_least(store: Store, count: int) -> bool:
    return await first_emails(store) >= count


async def journey_year(data: Path) -> None:
    """A quiet and a busy lead for a year on the time-skipping server: runs and lengths."""
    settings = Settings(
        database_url=sqlite_url(data / "year"),
        scenarios_dir=REPO / "bench" / "scenarios",
        outbox_dir=data / "year" / "outbox",
        task_queue="bench-year",
    )
    (data / "year").mkdir()
    with upgraded_store(settings.database_url) as store:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=time_skipping_server()
        )
        settings.temporal_address = env.client.service_client.config.target_host
        try:
            client = await connect(settings)
            await search_attributes.register(client)
            async with build_worker(client, settings, store):
                for label, per_day, every in (("quiet", 1, 7), ("busy", BUSY_PER_DAY, 1)):
                    (lead,) = upsert_leads(store, f"year-{label}", 1)
                    await start_journey(client, settings, store, lead, PRODUCT)
                    for day in range(0, SAMPLE_YEAR_DAYS, every):
                        for n in range(per_day):
                            await send_behavior(
                                client, PRODUCT, lead.id, behavior_event(f"{label}-{day}-{n}")
                            )
                        await env.sleep(timedelta(days=every))
                    runs = await run_lengths(client, journey_id(PRODUCT, lead.id))
                    print_line(
                        f"journey-year, {label} ({per_day} event(s) / {every} day(s))",
                        f"{len(runs)} run(s), events {sum(runs)}, longest {max(runs)}",
                    )
        finally:
            await env.shutdown()


async def run_lengths(client: Client, workflow_id: str) -> list[int]:
    """History length of each run in the journey's continue-as-new chain, newest first."""
    lengths: list[int] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return lengths
        run_id = started.continued_execution_run_id


async def main() -> None:
    parser = cli.parser(__doc__)
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--signals", type=int, default=3_000)
    parser.add_argument("--cache", type=int, default=1_000, help="sticky cache per worker")
    parser.add_argument("--no-year", action="store_true", help="skip the journey-year")
    args = cli.parse(parser, {"leads": 300, "signals": 300, "cache": 100})
    with tempfile.TemporaryDirectory(prefix="nurture-bench-scale-") as folder:
        data = Path(folder)
        print(cache_bytecode(data / "pycache"))
        await sleeping_phases(args, data)
        if not args.no_year:
            await journey_year(data)
    print(machine_facts([temporal_versions()], [f"at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]))


if __name__ == "__main__":
    asyncio.run(main())
