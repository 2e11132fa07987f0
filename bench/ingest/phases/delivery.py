"""Delivery to journeys: from the first request until every journey has handled its events.

After each load phase the relays (one per uvicorn worker) signal the stored events to the
journeys; this waits for the outbox to empty and then for every journey's score to count
its events, and reads what the relays did (rounds, rows signalled twice) and, from a
sample of histories, how many events each `behaviors` signal carried.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.harness.cpu import Usage
from bench.harness.databases import as_utc
from bench.harness.waiting import latest_handled, until
from bench.ingest.config import DRAIN_LIMIT, PRODUCT
from bench.ingest.load import Load
from nurture.journey.client import journey_state
from nurture.store.engine import Store
from nurture.store.models import Event, EventDelivery


@dataclass
class Delivered:
    """Outbox rows of a phase, and when the journeys had handled them all."""

    rows: int = 0
    marked_by: datetime | None = None  # the last `delivered_at` the relays wrote
    handled_by: datetime | None = None  # workflow time of the last event handled
    signalled_twice: int = 0  # rows marked by both relays (attempts > 1)
    rounds: list[int] = field(default_factory=list)  # rows per relay round (one `now` each)
    round_gaps: list[float] = field(default_factory=list)  # seconds between rounds
    usage: Usage = field(default_factory=Usage)  # from the last answer to all handled


def outbox(store: Store, prefix: str) -> tuple[int, int]:
    """(rows, rows delivered) of the events whose ids start with `prefix`."""
    with store.session() as session:
        total, done = session.execute(
            select(func.count(), func.count(EventDelivery.delivered_at)).where(
                EventDelivery.event_id.like(f"{prefix}-%")
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
            select(EventDelivery.delivered_at, func.count())
            .where(
                EventDelivery.event_id.like(f"{prefix}-%"), EventDelivery.delivered_at.is_not(None)
            )
            .group_by(EventDelivery.delivered_at)
            .order_by(EventDelivery.delivered_at)
        ).all()
        delivered.signalled_twice = int(
            session.scalar(
                select(func.count()).where(
                    EventDelivery.event_id.like(f"{prefix}-%"), EventDelivery.attempts > 1
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

    if not await until(f"{prefix}: outbox", relayed, DRAIN_LIMIT):
        return delivered
    await asyncio.to_thread(relay_rounds, store, prefix, delivered)

    async def check(lead_id: str) -> datetime | None:
        state = await journey_state(client, PRODUCT, lead_id)
        if state.score.total < expected[lead_id]:
            return None
        return max(entry.at for entry in state.timeline if entry.kind == "event")

    delivered.handled_by = await latest_handled(
        f"{prefix}: journeys", list(expected), check, concurrency=concurrency, limit=DRAIN_LIMIT
    )
    return delivered


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


def delivery_text(load: Load, delivered: Delivered) -> str:
    seconds = delivery_seconds(load, delivered)
    if math.isnan(seconds):
        return "   not done (see above)"
    rate = delivery_rate(load, delivered)
    return f"{rate:8.1f}/s  ({delivered_events(load)} handled {seconds:.2f} s)"
