"""Load generation with httpx: the requests a tracker fleet sends, and what came back.

`spread` builds Segment `track` calls round robin over the leads (the same message ids and
leads as bench/track.lua sends with wrk); `singles` and `batches` make them requests;
`drive` sends them as fast as the API answers with N in flight, `paced` at a steady rate.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.harness.cpu import Usage
from bench.harness.report import quantile
from bench.harness.waiting import pool
from bench.ingest.config import BATCH_SIZE, SEND_LIMIT
from nurture.store.models import Lead

Tracked = tuple[str, Lead, dict[str, Any]]  # message id, its lead, the Segment payload


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
    usage: Usage = field(default_factory=Usage)  # CPU by process while it was sent

    @property
    def rate(self) -> float:
        seconds = self.last_answered - self.first_sent
        return self.accepted / seconds if seconds > 0 else 0.0

    def latency(self, q: float) -> float:
        """Seconds: wrk's percentile when wrk sent the phase, else from every 2xx request."""
        return self.percentiles[q] if self.percentiles else quantile(self.latencies, q)


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
    deadline = time.monotonic() + SEND_LIMIT

    async def send(call: Call) -> None:
        if time.monotonic() > deadline:
            load.failures["not sent: time limit"] += len(call.events)
            return
        await _post(http, call, load)

    await pool(calls, send, concurrency)
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


def pool_limits(concurrency: int) -> httpx.Limits:
    """One kept-alive connection per request in flight, as a tracker fleet's proxy holds."""
    return httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
