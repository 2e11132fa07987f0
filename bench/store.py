"""Store throughput on PostgreSQL beside a pgbench floor, measured in the same run.

House rule: performance is judged by benchmarks that print ratios against a floor measured
in the same run on the same server, never by timed assertions in tests. Absolute rates
depend on the machine and on how the server commits (fsync, synchronous_commit); the ratio
says how much of the database's own speed Nurture's code paths keep.

    .venv/bin/python -m bench.store [--events N] [--batch B] [--sends S] [--quick]

One fresh database (dropped at the end) on the server of NURTURE_BENCH_POSTGRES_URL,
upgraded by `Store.upgrade()`. The floor is pgbench, a C client sending one INSERT per
transaction into a table shaped like `events`; against it:

  a. the event log, one event per `record_events` call (one transaction each), as the
     ingest API stores a lone tracker hit; also from 4 threads, beside pgbench -c 4;
  b. the event log in batches of B, as an importer or a buffered tracker stores them;
  c. `send_email` run whole through ActivityEnvironment with a provider that does no I/O:
     load the lead, create the send row, the gate checks under the lead's row lock,
     render, build the MIME message, mark sent;
  d. bare Send rows inserted with the ORM, one per transaction: the database part of (c)
     without the checks, the rendering and the extra transactions.

Below the ratios it prints where the time of one item goes, from a second, instrumented
pass (bench/harness/sql.py: transactions, statements, pool checkouts, time waiting on the
server), so the instrumentation does not slow the timed pass.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg2
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

import activities.email as email_module
import nurture.mail.compose as compose_module
from activities.email import EmailActivities, SendEmailInput
from bench.harness import cli
from bench.harness.cpu import (
    Result,
    metered,
    postgres_cpu,
    readable,
    reaped_children_cpu,
    timed,
)
from bench.harness.databases import (
    bench_database,
    postgres_facts,
    upgraded_store,
    upsert_leads,
)
from bench.harness.report import machine_facts, print_ratios, print_row
from bench.harness.sql import Profile, profiled
from bench.harness.steps import ActivitySender, step_timers
from nurture.config import Settings
from nurture.leads.events import BehaviorEvent
from nurture.mail.providers import SendTags
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Scenario
from nurture.scenario.pins import pin_templates
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events
from nurture.store.models import Send

PGBENCH = "/usr/bin/pgbench"
PRODUCT = "bench"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
FLOOR_TABLE = "bench_floor"  # events' columns, jsonb, and only its two unique indexes
EVENTS_COPY = "bench_floor_events"  # `events` itself: its six indexes and its json column
THREADS = 4  # concurrent clients: pgbench -c 4 -j 2 against 4 threads of this process
WARMUP = 20  # items of each kind run untimed first: compiled-statement caches, the pool
PROFILE = 200  # items of each kind in the instrumented pass
ROUND_TRIPS = 2000  # bare `SELECT 1`s timed to price a round trip
MIN_FLOOR_TRANSACTIONS = 50

# pgbench's columns are literals or server-side functions, as cheap as an INSERT gets.
FLOOR_COLUMNS = "event_id, lead_id, type, url, product, properties, occurred_at, received_at"
FLOOR_VALUES = (
    "'pgb-' || gen_random_uuid(), 'ld_0123456789abcdef', 'bench_event', "
    "'https://bench.example.com/pricing', 'bench', '{\"n\": 1}', now(), now()"
)
TPS_LINE = re.compile(r"^tps = ([0-9.]+) \((.*)\)$", re.MULTILINE)


# ---- measuring ----------------------------------------------------------------------------


def cpu_sources(server_visible: bool) -> Callable[[], dict[str, float]]:
    """The client side (this process and its reaped children: pgbench) and the server
    (every postgres process, when they run on this machine)."""

    def snapshot() -> dict[str, float]:
        server = postgres_cpu() if server_visible else None
        return readable(client=time.process_time() + reaped_children_cpu(), server=server)

    return snapshot


def round_trip_ms(engine: Engine) -> float:
    """Mean `SELECT 1` round trip on a bare psycopg2 connection in autocommit: the price of
    each pre-ping, BEGIN and COMMIT beyond the statements themselves (a COMMIT also waits
    for the WAL flush)."""
    pooled = engine.raw_connection()
    try:
        raw: Any = pooled.driver_connection
        raw.autocommit = True
        with raw.cursor() as cursor:
            for _ in range(WARMUP):
                cursor.execute("SELECT 1")
            start = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                cursor.execute("SELECT 1")
            elapsed = time.perf_counter() - start
        raw.autocommit = False
    finally:
        pooled.close()
    return elapsed / ROUND_TRIPS * 1000


# ---- the floor: pgbench -------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """Where pgbench connects: the bench database on the admin URL's server."""

    url: URL

    def pgbench(
        self, script: Path, *, clients: int, threads: int, transactions: int
    ) -> tuple[float, str]:
        """Run pgbench; return its tps without connection time, and its output."""
        command = [PGBENCH, "-n", "-f", str(script), "-c", str(clients), "-j", str(threads)]
        command += ["-t", str(transactions)]
        if self.url.host:
            command += ["-h", self.url.host]
        if self.url.port:
            command += ["-p", str(self.url.port)]
        if self.url.username:
            command += ["-U", self.url.username]
        assert self.url.database
        command.append(self.url.database)
        env = dict(os.environ)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stderr}{done.stdout}")
        return parse_tps(done.stdout), done.stdout


def parse_tps(output: str) -> float:
    """pgbench ≥14 prints one tps line (without initial connection time); older ones print
    one including and one excluding connection establishment: take the one without."""
    found = TPS_LINE.findall(output)
    if not found:
        raise RuntimeError(f"no 'tps = ...' line in pgbench output:\n{output}")
    for value, note in found:
        if "without" in note or "excluding" in note:
            return float(value)
    return float(found[0][0])


def create_floor_tables(engine: Engine) -> None:
    """The floor table has the brief's shape; the copy of `events` (same indexes, json)
    separates what our schema costs the server from what our code costs the client."""
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE {FLOOR_TABLE} ("
            " id bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, lead_id text,"
            " type text NOT NULL, url text, product text, properties jsonb NOT NULL,"
            " occurred_at timestamptz NOT NULL, received_at timestamptz NOT NULL)"
        )
        connection.exec_driver_sql(f"CREATE TABLE {EVENTS_COPY} (LIKE events INCLUDING ALL)")


def write_scripts(folder: Path, batch: int) -> dict[str, Path]:
    scripts = {
        "single": f"INSERT INTO {FLOOR_TABLE} ({FLOOR_COLUMNS}) VALUES ({FLOOR_VALUES});\n",
        "events": f"INSERT INTO {EVENTS_COPY} ({FLOOR_COLUMNS}) VALUES ({FLOOR_VALUES});\n",
        "batch": (
            f"INSERT INTO {FLOOR_TABLE} ({FLOOR_COLUMNS}) "
            f"SELECT {FLOOR_VALUES} FROM generate_series(1, {batch});\n"
        ),
    }
    paths = {}
    for name, sql in scripts.items():
        paths[name] = folder / f"{name}.sql"
        paths[name].write_text(sql)
    return paths


def floor(
    server: Server,
    script: Path,
    *,
    rows: int,
    per_transaction: int = 1,
    clients: int = 1,
    cpu: Callable[[], dict[str, float]],
) -> Result:
    """pgbench's rate (rows per second, without connection time) over `rows` rows at least."""
    # At least MIN_FLOOR_TRANSACTIONS, so that a floor of big batches still times a while.
    transactions = max(MIN_FLOOR_TRANSACTIONS, math.ceil(rows / per_transaction / clients))
    with metered(cpu) as usage:
        tps, _ = server.pgbench(
            script, clients=clients, threads=min(clients, 2), transactions=transactions
        )
    count = transactions * clients * per_transaction
    return Result(count, count / (tps * per_transaction), usage)


# ---- what Nurture does --------------------------------------------------------------------


def logged_events(tag: str, count: int) -> list[LoggedEvent]:
    """Built before the clock starts: the ingest API validates them before storing them."""
    now = datetime.now(UTC)
    return [
        LoggedEvent(
            BehaviorEvent(
                event_id=f"{tag}-{i}",
                type="bench_event",
                occurred_at=now,
                url="https://bench.example.com/pricing",
                product=PRODUCT,
                properties={"n": i},
            ),
            lead_id=f"ld_bench{i % 100:08d}",
        )
        for i in range(count)
    ]


def log_one_by_one(store: Store, items: Sequence[LoggedEvent]) -> None:
    for item in items:
        record_events(store, [item])


def log_in_batches(store: Store, items: Sequence[LoggedEvent], batch: int) -> None:
    for i in range(0, len(items), batch):
        record_events(store, items[i : i + batch])


def log_from_threads(store: Store, items: Sequence[LoggedEvent]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        shares = [items[k::THREADS] for k in range(THREADS)]
        list(pool.map(lambda share: log_one_by_one(store, share), shares))


class NullProvider:
    """Delivers nowhere, so a send's time is our path alone, with no SMTP or HTTP in it.

    It does not serialise the message either; a real provider would (`as_bytes()`).
    """

    name = "bench"
    redelivery_is_harmless = False

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        return tags.send_id


def make_leads(store: Store, tag: str, count: int) -> list[str]:
    """Leads with opt-in consent, so every gate check passes and every send goes out."""
    return [lead.id for lead in upsert_leads(store, tag, count, lambda _: {"first_name": "Bench"})]


def send_inputs(scenario: Scenario, lead_ids: Sequence[str]) -> list[SendEmailInput]:
    """The first cold step's email to each lead, as the journey asks for it."""
    step = scenario.tracks["cold"].steps[0]
    subject, template = step.variants()[0]
    return [
        SendEmailInput(
            brand=scenario.brand,
            scenario_version=scenario.version,
            journey_id=f"journey:{PRODUCT}:{lead_id}",
            lead_id=lead_id,
            product=PRODUCT,
            send_key=f"cold#1/{step.key}",
            mail_type="step",
            template=template,
            subject=subject,
            variant=0,
            journey_time=datetime.now(UTC),
            journey={"stage": "cold", "score": 0, "track": "cold", "step": step.key},
        )
        for lead_id in lead_ids
    ]


def send_rows(tag: str, lead_ids: Sequence[str]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "id": f"snd_{tag}{i:08d}",
            "journey_id": f"journey:{PRODUCT}:{lead_id}:{tag}",
            "send_key": "cold#1/first",
            "lead_id": lead_id,
            "product": PRODUCT,
            "mail_type": "step",
            "template": "step",
            "subject": "Welcome, Bench",
            "provider": "bench",
            "status": "sent",
            "journey_time": now,
            "sent_at": now,
        }
        for i, lead_id in enumerate(lead_ids)
    ]


def insert_sends(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        with store.session() as session:
            session.add(Send(**row))


# ---- the run ------------------------------------------------------------------------------


@dataclass
class Run:
    floors: dict[str, Result]
    nurture: dict[str, Result]
    profiles: dict[str, Profile]
    round_trip_ms: float
    activity_ms: float  # ActivityEnvironment.run of a function that does nothing
    facts: str  # the server's version and commit settings


def checkpoint(engine: Engine) -> None:
    """Flush dirty pages between phases, so no phase pays for the one before it."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CHECKPOINT")
    except DBAPIError:
        pass  # not allowed for this role: phases then share the background writer's work


def measure(url: URL, tmp: Path, events: int, batch: int, sends: int) -> Run:
    with upgraded_store(url) as store:
        return _measure(store, Server(url), tmp, events, batch, sends)


def _measure(store: Store, server: Server, tmp: Path, events: int, batch: int, sends: int) -> Run:
    visible = server.url.host in (None, "", "127.0.0.1", "localhost", "::1")
    cpu = cpu_sources(visible and postgres_cpu() is not None)
    engine = store.engine
    tag = uuid.uuid4().hex[:8]
    print("setup: floor tables, leads, pinned templates …", flush=True)
    create_floor_tables(engine)
    scripts = write_scripts(tmp, batch)
    scenario = load_scenario(SCENARIOS, PRODUCT)
    pin_templates(store, SCENARIOS / PRODUCT, PRODUCT, scenario.version)  # as a journey does
    settings = Settings(
        database_url=store.url,
        outbox_dir=tmp / "outbox",
        secret_key="bench-secret",
        frequency_cap_per_week=0,
    )
    sender = ActivitySender(EmailActivities(store, settings, NullProvider()))
    send_leads = make_leads(store, f"{tag}-s", sends + 2 * WARMUP + PROFILE)
    warm_leads, send_leads = send_leads[: 2 * WARMUP], send_leads[2 * WARMUP :]
    profile_leads, send_leads = send_leads[:PROFILE], send_leads[PROFILE:]

    print("warm-up …", flush=True)
    log_one_by_one(store, logged_events(f"{tag}-w1", WARMUP))
    log_in_batches(store, logged_events(f"{tag}-w2", batch), batch)
    log_from_threads(store, logged_events(f"{tag}-w3", WARMUP * THREADS))
    sender.send_all(send_inputs(scenario, warm_leads[:WARMUP]))
    insert_sends(store, send_rows(f"{tag}w", warm_leads[WARMUP:]))
    rtt = round_trip_ms(engine)

    floors: dict[str, Result] = {}
    nurture: dict[str, Result] = {}

    def phase(name: str, run: Callable[[], Result]) -> Result:
        checkpoint(engine)
        print(f"  {name:<42}", end="", flush=True)
        result = run()
        print(f"{result.rate:>10.1f} rows/s  ({result.count} in {result.usage.wall:.2f} s)")
        return result

    def ours(count: int, work: Callable[[], None]) -> Callable[[], Result]:
        return lambda: timed(count, work, cpu)

    single, batched, threaded = (logged_events(f"{tag}-{k}", events) for k in "abc")
    inputs = send_inputs(scenario, send_leads)
    rows = send_rows(tag, send_leads)

    print("timed pass (adjacent pairs, floor first):", flush=True)
    floors["single"] = phase(
        "floor: pgbench -c 1, 1 row/txn",
        lambda: floor(server, scripts["single"], rows=events, cpu=cpu),
    )
    nurture["single"] = phase(
        "nurture: record_events, 1 event/call", ours(events, lambda: log_one_by_one(store, single))
    )
    floors["events"] = phase(
        "floor: pgbench -c 1, 1 row/txn, events copy",
        lambda: floor(server, scripts["events"], rows=events, cpu=cpu),
    )
    floors["batch"] = phase(
        f"floor: pgbench -c 1, {batch} rows/txn",
        lambda: floor(server, scripts["batch"], rows=events, per_transaction=batch, cpu=cpu),
    )
    nurture["batch"] = phase(
        f"nurture: record_events, {batch} events/call",
        ours(events, lambda: log_in_batches(store, batched, batch)),
    )
    floors["threads"] = phase(
        f"floor: pgbench -c {THREADS} -j 2, 1 row/txn",
        lambda: floor(server, scripts["single"], rows=events, clients=THREADS, cpu=cpu),
    )
    nurture["threads"] = phase(
        f"nurture: record_events, {THREADS} threads",
        ours(events, lambda: log_from_threads(store, threaded)),
    )
    nurture["send"] = phase(
        "nurture: send_email, whole path", ours(sends, lambda: sender.send_all(inputs))
    )
    nurture["rows"] = phase(
        "nurture: Send row via ORM, 1/txn", ours(sends, lambda: insert_sends(store, rows))
    )

    print(f"instrumented pass ({PROFILE} items each) …", flush=True)
    profiles = {
        "single": profiled(
            engine,
            PROFILE,
            lambda: log_one_by_one(store, logged_events(f"{tag}-p1", PROFILE)),
        ),
        "batch": profiled(
            engine,
            2 * batch,
            lambda: log_in_batches(store, logged_events(f"{tag}-p2", 2 * batch), batch),
        ),
        "rows": profiled(
            engine, PROFILE, lambda: insert_sends(store, send_rows(f"{tag}p", profile_leads))
        ),
    }
    parts = [  # a label that starts with a space is a part of the line above it
        ("lock lead, row, gate checks, claim: _gate", sender.emails, "_gate"),
        ("the message: _message", sender.emails, "_message"),
        ("  of which render (jinja2)", email_module.TemplateRenderer, "render"),
        ("  of which MIME: build_message", compose_module, "build_message"),
    ]
    profile_inputs = send_inputs(scenario, profile_leads)
    with step_timers(parts) as steps:
        profiles["send"] = profiled(engine, PROFILE, lambda: sender.send_all(profile_inputs))
    profiles["send"].steps = steps
    activity_ms = sender.context_ms(PROFILE)
    facts = postgres_facts(server.url)
    return Run(floors, nurture, profiles, rtt, activity_ms, facts)


# ---- the report ---------------------------------------------------------------------------


def report(run: Run, events: int, batch: int, sends: int) -> None:
    floors, nurture = run.floors, run.nurture
    print_ratios(
        [
            (f"event log, 1 event/call (N={events})", floors["single"], nurture["single"]),
            (f"event log, {batch} events/call (N={events})", floors["single"], nurture["batch"]),
            (f"event log, 1/call, {THREADS} threads", floors["threads"], nurture["threads"]),
            (f"send_email, whole path (S={sends})", floors["single"], nurture["send"]),
            (f"Send row via ORM, 1/txn (S={sends})", floors["single"], nurture["rows"]),
        ],
        width=42,
    )
    print(
        f"floor: pgbench, 1 client, one INSERT per transaction into {FLOOR_TABLE} "
        f"({THREADS} clients, -j 2, for the threads row)"
    )
    print_ratios(
        [
            ("1 row/txn into a copy of `events`", floors["events"], nurture["single"]),
            (f"{batch} rows/txn (INSERT … SELECT)", floors["batch"], nurture["batch"]),
        ],
        width=42,
        title="like-for-like floors",
    )
    where_time_goes(run, batch)


def where_time_goes(run: Run, batch: int) -> None:
    """Per row: CPU on each side, round trips, waiting on the server, and Python."""
    floors, nurture, profiles = run.floors, run.nurture, run.profiles
    columns: list[tuple[str, Result, Profile | None]] = [
        ("pgbench", floors["single"], None),
        (f"pgb -c {THREADS}", floors["threads"], None),
        ("ev 1/call", nurture["single"], profiles["single"]),
        (f"ev {THREADS} thr", nurture["threads"], None),
        (f"ev {batch}/call", nurture["batch"], profiles["batch"]),
        ("send_email", nurture["send"], profiles["send"]),
        ("Send row", nurture["rows"], profiles["rows"]),
    ]
    Cell = Callable[[Result, Profile | None], float | None]

    def line(label: str, cell: Cell) -> None:
        values = [cell(result, profile) for _, result, profile in columns]
        print_row(label, values, width=44, size=12, digits=3)

    def wall_ms(result: Result, _: Profile | None) -> float | None:
        return result.usage.wall / result.count * 1000

    def cpu_ms(source: str) -> Cell:
        return lambda result, _: result.per_item_ms(source)

    def busy(result: Result, _: Profile | None) -> float | None:
        client, server = result.usage.busy("client"), result.usage.busy("server")
        return None if client is None or server is None else client + server

    def per_item(pick: Callable[[Profile], float]) -> Cell:
        def cell(_: Result, profile: Profile | None) -> float | None:
            return None if profile is None else profile.per(pick(profile))

        return cell

    print()
    print_row("per row, timed pass, ms", [n for n, _, _ in columns], width=44, size=12)
    line("wall", wall_ms)
    line("client CPU: this process, or pgbench", cpu_ms("client"))
    line("server CPU: all postgres processes", cpu_ms("server"))
    line("busy cores: (client + server CPU) / wall", busy)
    print(f"per row, instrumented pass ({PROFILE} items; {2 * batch} events for the batches)")
    line("transactions: a BEGIN round trip each", per_item(lambda p: p.db.transactions))
    line("statements", per_item(lambda p: p.db.statements))
    line("  compiled: not from SQLAlchemy's cache", per_item(lambda p: p.db.compiled))
    line("pool checkouts", per_item(lambda p: p.db.checkouts))
    line("wall, ms", per_item(lambda p: p.wall * 1000))
    line("  in cursor.execute (BEGIN + statement)", per_item(lambda p: p.db.execute_s * 1000))
    line("  in COMMIT", per_item(lambda p: p.db.commit_s * 1000))
    line("  in pre-pings (none unless pool_pre_ping)", per_item(lambda p: p.db.ping_s * 1000))
    line("  the rest: Python (ours, ORM, driver)", per_item(lambda p: p.python_s * 1000))
    print(f"(a bare SELECT 1 round trip: {run.round_trip_ms:.3f} ms)")

    send = profiles["send"]
    per_send = send.per(send.wall) * 1000
    print(f"\nsend_email, where a send's {per_send:.2f} ms go (instrumented pass), ms")
    for label, seconds in send.steps.items():
        print(f"  {label:<42}{send.per(seconds) * 1000:>8.3f}")
    other = send.wall - sum(v for k, v in send.steps.items() if not k.startswith(" "))
    print(f"  {'the rest: mark sent, activity context, …':<42}{send.per(other) * 1000:>8.3f}")
    print(f"  {'  of which activity context (a no-op run)':<42}{run.activity_ms:>8.3f}")


def versions() -> list[str]:
    pgbench = subprocess.run([PGBENCH, "--version"], capture_output=True, text=True).stdout
    return [
        f"SQLAlchemy {sqlalchemy.__version__}",
        f"psycopg2 {psycopg2.__version__.split()[0]}",
        pgbench.strip(),
    ]


def main(events: int, batch: int, sends: int) -> None:
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="nurture-bench-") as tmp,
        bench_database() as url,
    ):
        print(f"database: {url.render_as_string(hide_password=True)}", flush=True)
        run = measure(url, Path(tmp), events, batch, sends)
    report(run, events, batch, sends)
    facts = machine_facts(versions(), [run.facts])
    print(f"\n{facts}\ntotal run {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    parser = cli.parser(__doc__)
    parser.add_argument("--events", type=int, default=5000, help="events per event-log measure")
    parser.add_argument("--batch", type=int, default=500, help="events per batched call")
    parser.add_argument("--sends", type=int, default=1000, help="emails sent (distinct leads)")
    args = cli.parse(parser, quick={"events": 300, "batch": 50, "sends": 50})
    if min(args.events, args.batch, args.sends) < 1:
        parser.error("--events, --batch and --sends must be at least 1")
    main(args.events, args.batch, args.sends)
