"""The relay: delivers accepted events from the store's outbox to their journeys.

The API writes an event and one `deliveries` row per journey of the lead in one
transaction, then answers 2xx. The relay signals them, grouped per journey (one
`behaviors` signal carries all pending events of a journey), and marks them delivered.
While Temporal is unreachable rows stay pending and go out once it is back; a journey
that has closed takes nothing and its rows are marked delivered with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from nurture.db import Delivery, Event, Journey, utcnow
from nurture.event_log import event_of
from nurture.events import BehaviorEvent
from nurture.store import Store

log = logging.getLogger("nurture.relay")
BATCH = 500
CLAIM = timedelta(seconds=30)
CLOSED = {RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION}


@dataclass(frozen=True)
class RelayRound:
    delivered: int = 0
    closed: int = 0
    failed: int = 0


async def relay_once(store: Store, client: Client, limit: int = BATCH) -> RelayRound:
    """Deliver up to `limit` pending rows; a journey's events go in one signal, in time order."""
    pending = await asyncio.to_thread(_pending, store, limit)
    by_journey: dict[str, list[tuple[int, BehaviorEvent]]] = defaultdict(list)
    for delivery_id, workflow_id, event in pending:
        by_journey[workflow_id].append((delivery_id, event))
    # A signal carries at most PER_SIGNAL events, well inside Temporal's payload limit.
    chunks = [
        (workflow_id, rows[i : i + PER_SIGNAL])
        for workflow_id, rows in by_journey.items()
        for i in range(0, len(rows), PER_SIGNAL)
    ]
    results = await asyncio.gather(*(_signal(client, wid, rows) for wid, rows in chunks))
    not_found = {wid for (wid, _), (outcome, _) in zip(chunks, results, strict=True)
                 if outcome == "closed"}  # fmt: skip
    confirmed = await asyncio.to_thread(_confirmed, store, not_found) if not_found else set()
    outcomes: dict[str, list[tuple[list[int], str | None]]] = defaultdict(list)
    for (workflow_id, rows), (outcome, note) in zip(chunks, results, strict=True):
        if outcome == "closed" and workflow_id not in confirmed:
            outcome, note = "failed", "journey not started yet"  # keep the events for it
        outcomes[outcome].append(([delivery_id for delivery_id, _ in rows], note))
        if outcome == "failed":
            log.warning("relay: %s not reachable yet: %s", workflow_id, note)
    await asyncio.to_thread(
        _mark, store, outcomes["delivered"], outcomes["closed"], outcomes["failed"]
    )
    return RelayRound(**{key: sum(len(ids) for ids, _ in outcomes[key]) for key in _KINDS})


_KINDS = ("delivered", "closed", "failed")
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


def _pending(store: Store, limit: int) -> list[tuple[int, str, BehaviorEvent]]:
    """Claim up to `limit` pending rows for this relay; relays of other API processes skip
    them (SKIP LOCKED on PostgreSQL, the write lock on SQLite) and a dead relay's claims
    lapse after CLAIM."""
    now = utcnow()
    with store.session() as session:
        free = (
            select(Delivery.id)
            .where(
                Delivery.delivered_at.is_(None),
                or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            )
            .order_by(Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(session.scalars(free))
        if not ids:
            return []
        session.execute(
            update(Delivery).where(Delivery.id.in_(ids)).values(claimed_until=now + CLAIM)
        )
        rows = session.execute(
            select(Delivery.id, Delivery.workflow_id, Event)
            .join(Event, Event.event_id == Delivery.event_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        )
        return [
            (delivery_id, workflow_id, event_of(event)) for delivery_id, workflow_id, event in rows
        ]


async def _signal(
    client: Client, workflow_id: str, rows: list[tuple[int, BehaviorEvent]]
) -> tuple[str, str | None]:
    events = sorted((event for _, event in rows), key=lambda e: (e.occurred_at, e.event_id))
    try:
        await client.get_workflow_handle(workflow_id).signal("behaviors", events)
    except RPCError as err:
        if err.status in CLOSED:
            return "closed", f"journey not running: {err.message}"
        return "failed", str(err)
    except Exception as err:  # connection refused and the like: Temporal is down
        return "failed", str(err)
    return "delivered", None


def _mark(
    store: Store,
    delivered: list[tuple[list[int], str | None]],
    closed: list[tuple[list[int], str | None]],
    failed: list[tuple[list[int], str | None]],
) -> None:
    now = utcnow()
    done = [i for ids, _ in delivered for i in ids]
    with store.session() as session:
        if done:  # the common case: one statement for the whole round
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(done))
                .values(delivered_at=now, attempts=Delivery.attempts + 1)
            )
        for ids, note in closed:
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(delivered_at=now, attempts=Delivery.attempts + 1, last_error=note)
            )
        for ids, error in failed:
            # Each row waits longer after each failure (0 s, 1 s, 3 s, 7 s, … 60 s), so a
            # journey that keeps failing does not crowd out the others every round.
            attempts = session.execute(select(Delivery.id, Delivery.attempts).where(
                Delivery.id.in_(ids)))  # fmt: skip
            by_attempts: dict[int, list[int]] = defaultdict(list)
            for delivery_id, tried in attempts:
                by_attempts[tried + 1].append(delivery_id)
            for tried, group in by_attempts.items():
                session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(group))
                    .values(
                        attempts=tried,
                        last_error=(error or "")[:2000],
                        claimed_until=now + retry_delay(tried),
                    )
                )
