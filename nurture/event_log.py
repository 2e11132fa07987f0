"""The event log: every behaviour event stored once, by its id, for timelines and analytics.

Trackers retry and webhooks repeat themselves; the unique `event_id` makes a repeat a
no-op in one statement (INSERT ... ON CONFLICT DO NOTHING) on both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nurture import send_gate
from nurture.db import Event, Lead
from nurture.events import DELIVERY_ENDING_TYPES, BehaviorEvent
from nurture.store import Store


@dataclass(frozen=True)
class LoggedEvent:
    """An event and whom it belongs to: a known lead, or an anonymous visitor (or both)."""

    event: BehaviorEvent
    lead_id: str | None = None
    anonymous_id: str | None = None


def record_events(store: Store, batch: Sequence[LoggedEvent]) -> list[str]:
    """Store the batch in one transaction; returns the ids that were new (repeats are skipped).

    A bounce or spam report of a known lead also suppresses all its email (seed 000:
    keep the list clean), in the same transaction.
    """
    if not batch:
        return []
    rows = [
        {
            "event_id": item.event.event_id,
            "lead_id": item.lead_id,
            "anonymous_id": item.anonymous_id,
            "type": item.event.type,
            "url": item.event.url,
            "product": item.event.product,
            "properties": item.event.properties,
            "occurred_at": item.event.occurred_at,
        }
        for item in _unique(batch)
    ]
    with store.session() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Rows passed as parameters, not baked into the statement: it compiles once per
        # process and runs as one multi-row INSERT ... RETURNING.
        statement = (
            insert(Event)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(Event.event_id)
        )
        new = set(session.scalars(statement, rows))
        for item in batch:
            if item.event.event_id in new and item.event.type in DELIVERY_ENDING_TYPES:
                _suppress_delivery(session, item)
    return [item.event.event_id for item in _unique(batch) if item.event.event_id in new]


def _unique(batch: Sequence[LoggedEvent]) -> list[LoggedEvent]:
    seen: dict[str, LoggedEvent] = {}
    for item in batch:
        seen.setdefault(item.event.event_id, item)
    return list(seen.values())


def _suppress_delivery(session: Session, item: LoggedEvent) -> None:
    lead = session.get(Lead, item.lead_id) if item.lead_id else None
    if lead is not None:
        send_gate.suppress(
            session, email=lead.email, lead_id=lead.id, scope="global", reason=item.event.type
        )


def identify(store: Store, anonymous_id: str, lead_id: str) -> list[BehaviorEvent]:
    """Attach an anonymous visitor's earlier events to a lead; returns them in time order,
    for replay into the lead's journeys (their event ids keep the replay idempotent)."""
    with store.session() as session:
        session.execute(
            update(Event)
            .where(Event.anonymous_id == anonymous_id, Event.lead_id.is_(None))
            .values(lead_id=lead_id)
        )
        rows = session.scalars(
            select(Event)
            .where(Event.anonymous_id == anonymous_id, Event.lead_id == lead_id)
            .order_by(Event.occurred_at)
        )
        return [_behavior(row) for row in rows]


def lead_timeline(store: Store, lead_id: str, limit: int = 100) -> list[BehaviorEvent]:
    """The lead's most recent events, newest first (served by ix_events_lead_time)."""
    with store.session() as session:
        rows = session.scalars(
            select(Event)
            .where(Event.lead_id == lead_id)
            .order_by(Event.occurred_at.desc())
            .limit(limit)
        )
        return [_behavior(row) for row in rows]


def _behavior(row: Event) -> BehaviorEvent:
    return BehaviorEvent(
        event_id=row.event_id,
        type=row.type,
        occurred_at=row.occurred_at,
        url=row.url,
        product=row.product,
        properties=row.properties or {},
    )
