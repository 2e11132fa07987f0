"""The relay: delivers accepted events to their journeys, from the `deliveries` table.

The API writes an event and one `deliveries` row per journey of the lead in one
transaction, then answers 2xx. The relay signals them, grouped per journey (one
`behaviors` signal carries all pending events of a journey), and marks them delivered.
While Temporal is unreachable rows stay pending and go out once it is back, however long
that takes; a journey that has closed takes nothing and its rows are marked delivered with
the reason. A journey that keeps refusing its events while Temporal is up (it was noted
but never started, or Temporal rejects the signal) has them parked after PARK_AFTER, so
they stop costing a retry every minute (after PARK_ATTEMPTS refusals, the event accepted
more than PARK_AFTER ago); `nurture deliveries` lists them and
`nurture deliveries retry` puts them back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from nurture.leads.events import BehaviorEvent
from nurture.observability.metrics import EVENTS_RELAYED
from nurture.observability.tracing import relay_span
from nurture.store.engine import Store
from nurture.store.event_log import event_of
from nurture.store.models import Event, EventDelivery, Journey, utcnow

log = logging.getLogger("nurture.store.relay")
BATCH = 500
CLAIM = timedelta(seconds=30)
CLOSED = {RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION}
# Temporal itself is unreachable or busy: retried for as long as it takes, never parked.
TRANSIENT = {
    RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED, RPCStatusCode.ABORTED, RPCStatusCode.UNKNOWN, RPCStatusCode.INTERNAL,
}  # fmt: skip
PARK_AFTER = timedelta(hours=1)
PARK_ATTEMPTS = 20  # with the back-off, about 15 minutes of refusals


@dataclass(frozen=True)
class RelayRound:
    delivered: int = 0
    closed: int = 0
    failed: int = 0  # Temporal unreachable, or the journey refused them (retried later)
    parked: int = 0  # of the failed: refused for longer than PARK_AFTER, set aside


async def relay_once(store: Store, client: Client, limit: int = BATCH) -> RelayRound:
    """Deliver up to `limit` pending rows; a journey's events go in one signal, in time order."""
    pending = await asyncio.to_thread(_pending, store, limit)
    by_journey: dict[str, list[ClaimedDelivery]] = defaultdict(list)
    for row in pending:
        by_journey[row.workflow_id].append(row)
    # A signal carries at most PER_SIGNAL events, well inside Temporal's payload limit.
    chunks = [
        (workflow_id, rows[i : i + PER_SIGNAL])
        for workflow_id, rows in by_journey.items()
        for i in range(0, len(rows), PER_SIGNAL)
    ]
    results = await asyncio.gather(*(_signal(client, wid, rows) for wid, rows in chunks))
    not_found = {
        wid for (wid, _), (outcome, _) in zip(chunks, results, strict=True) if outcome == "closed"
    }
    confirmed = await asyncio.to_thread(_confirmed, store, not_found) if not_found else set()
    outcomes: dict[str, list[tuple[list[int], str | None]]] = defaultdict(list)
    for (workflow_id, rows), (outcome, note) in zip(chunks, results, strict=True):
        if outcome == "closed" and workflow_id not in confirmed:
            outcome, note = "refused", "journey not started yet"  # keep the events for it
        outcomes[outcome].append(([row.delivery_id for row in rows], note))
        if outcome in ("failed", "refused"):
            log.warning("relay: %s not reachable yet: %s", workflow_id, note)
    parked = await asyncio.to_thread(_mark, store, outcomes)
    counts = {key: sum(len(ids) for ids, _ in outcomes[key]) for key in _KINDS}
    counts["failed"] += counts.pop("refused")
    for outcome, count in [*counts.items(), ("parked", parked)]:
        EVENTS_RELAYED.labels(outcome).inc(count)
    return RelayRound(**counts, parked=parked)


@dataclass(frozen=True)
class ClaimedDelivery:
    """A claimed delivery: which journey, which event, and the trace it was accepted in."""

    delivery_id: int
    workflow_id: str
    event: BehaviorEvent
    traceparent: str | None


_KINDS = ("delivered", "closed", "failed", "refused")
PER_SIGNAL = 100


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(60, 2 ** (attempts - 1) - 1))


def _confirmed(store: Store, workflow_ids: set[str]) -> set[str]:
    """The journeys Temporal is known to have had: for them 'not found' means closed."""
    with store.session() as session:
        return set(
            session.scalars(
                select(Journey.workflow_id).where(
                    Journey.workflow_id.in_(workflow_ids), Journey.confirmed_at.is_not(None)
                )
            )
        )


async def run_relay(store: Store, client: Client, idle: float = 0.2) -> None:
    """Relay until cancelled: at once while there is work, every `idle` seconds otherwise."""
    backoff = idle
    while True:
        try:
            result = await relay_once(store, client)
        except Exception:  # the store being down must not kill the relay
            log.exception("relay round failed")
            result = RelayRound(failed=1)
        if result.delivered or result.closed:
            backoff = 0.0  # keep going while there is work that goes through
        elif result.failed:
            backoff = min(max(backoff, idle) * 2, 5.0)
        else:
            backoff = idle
        await asyncio.sleep(backoff)


def _pending(store: Store, limit: int) -> list[ClaimedDelivery]:
    """Claim up to `limit` pending rows for this relay; relays of other API processes skip
    them (SKIP LOCKED on PostgreSQL, the write lock on SQLite) and a dead relay's claims
    lapse after CLAIM."""
    now = utcnow()
    with store.session() as session:
        free = (
            select(EventDelivery.id)
            .where(
                EventDelivery.delivered_at.is_(None),
                EventDelivery.parked_at.is_(None),
                or_(EventDelivery.claimed_until.is_(None), EventDelivery.claimed_until < now),
            )
            .order_by(EventDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(session.scalars(free))
        if not ids:
            return []
        session.execute(
            update(EventDelivery).where(EventDelivery.id.in_(ids)).values(claimed_until=now + CLAIM)
        )
        rows = session.execute(
            select(EventDelivery.id, EventDelivery.workflow_id, Event, EventDelivery.traceparent)
            .join(Event, Event.event_id == EventDelivery.event_id)
            .where(EventDelivery.id.in_(ids))
            .order_by(EventDelivery.id)
        )
        return [
            ClaimedDelivery(delivery_id, workflow_id, event_of(event), traceparent)
            for delivery_id, workflow_id, event, traceparent in rows
        ]


async def _signal(
    client: Client, workflow_id: str, rows: list[ClaimedDelivery]
) -> tuple[str, str | None]:
    events = sorted((row.event for row in rows), key=lambda e: (e.occurred_at, e.event_id))
    try:
        with relay_span((row.traceparent for row in rows), len(events)):
            await client.get_workflow_handle(workflow_id).signal("behaviors", events)
    except RPCError as err:
        if err.status in CLOSED:
            return "closed", f"journey not running: {err.message}"
        return ("failed" if err.status in TRANSIENT else "refused"), str(err)
    except Exception as err:  # connection refused and the like: Temporal is down
        return "failed", str(err)
    return "delivered", None


def _mark(store: Store, outcomes: dict[str, list[tuple[list[int], str | None]]]) -> int:
    """Record a round; returns how many rows were parked."""
    now = utcnow()
    done = [i for ids, _ in outcomes["delivered"] for i in ids]
    parked = 0
    with store.session() as session:
        if done:  # the common case: one statement for the whole round
            session.execute(
                update(EventDelivery)
                .where(EventDelivery.id.in_(done))
                .values(delivered_at=now, attempts=EventDelivery.attempts + 1)
            )
        for ids, note in outcomes["closed"]:
            session.execute(
                update(EventDelivery)
                .where(EventDelivery.id.in_(ids))
                .values(delivered_at=now, attempts=EventDelivery.attempts + 1, last_error=note)
            )
        for kind in ("failed", "refused"):
            for ids, error in outcomes[kind]:
                _retry_later(session, ids, error, now, refused=kind == "refused")
                if kind == "refused":
                    parked += _park(session, ids, now)
    return parked


def _retry_later(
    session: Session, ids: list[int], error: str | None, now: datetime, *, refused: bool
) -> None:
    """Each row waits longer after each failure (0 s, 1 s, 3 s, 7 s, … 60 s), so a journey
    that keeps failing does not crowd out the others every round; a refusal by the journey
    (not Temporal being down) is counted too."""
    attempts = session.execute(
        select(EventDelivery.id, EventDelivery.attempts).where(EventDelivery.id.in_(ids))
    )
    by_attempts: dict[int, list[int]] = defaultdict(list)
    for delivery_id, tried in attempts:
        by_attempts[tried + 1].append(delivery_id)
    for tried, group in by_attempts.items():
        session.execute(
            update(EventDelivery)
            .where(EventDelivery.id.in_(group))
            .values(
                attempts=tried,
                refusals=EventDelivery.refusals + int(refused),
                last_error=(error or "")[:2000],
                claimed_until=now + retry_delay(tried),
            )
        )


def _park(session: Session, ids: list[int], now: datetime) -> int:
    """Set aside the rows this journey has refused PARK_ATTEMPTS times (failures while
    Temporal was down do not count), accepted more than PARK_AFTER ago; a retry from
    `nurture deliveries retry` counts afresh."""
    result = session.execute(
        update(EventDelivery)
        .where(
            EventDelivery.id.in_(ids),
            EventDelivery.refusals >= PARK_ATTEMPTS,
            EventDelivery.created_at < now - PARK_AFTER,
        )
        .values(parked_at=now)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        log.error("relay: parked %d events a journey kept refusing (`nurture deliveries`)", count)
    return count


@dataclass(frozen=True)
class ParkedJourney:
    """A journey with parked events: how many, since when, and why."""

    workflow_id: str
    events: int
    first_parked: datetime | None
    last_error: str | None


def parked_deliveries(store: Store) -> list[ParkedJourney]:
    """The journeys whose events are parked, most events first."""
    with store.session() as session:
        rows = session.execute(
            select(
                EventDelivery.workflow_id,
                func.count(),
                func.min(EventDelivery.parked_at),
                func.max(EventDelivery.last_error),
            )
            .where(EventDelivery.parked_at.is_not(None), EventDelivery.delivered_at.is_(None))
            .group_by(EventDelivery.workflow_id)
            .order_by(func.count().desc(), EventDelivery.workflow_id)
        )
        return [ParkedJourney(w, n, first, error) for w, n, first, error in rows]


def retry_parked(store: Store, workflow_id: str | None = None) -> int:
    """Put parked events back on their way (of one journey, or all); returns how many."""
    with store.session() as session:
        statement = update(EventDelivery).where(
            EventDelivery.parked_at.is_not(None), EventDelivery.delivered_at.is_(None)
        )
        if workflow_id is not None:
            statement = statement.where(EventDelivery.workflow_id == workflow_id)
        result = session.execute(
            statement.values(parked_at=None, attempts=0, refusals=0, claimed_until=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
