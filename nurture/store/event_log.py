"""The event log: every behaviour event stored once, by its id, for timelines and analytics.

Trackers retry and webhooks repeat themselves; the unique `event_id` makes a repeat a
no-op in one statement (INSERT ... ON CONFLICT DO NOTHING) on both engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nurture.leads.events import DELIVERY_ENDING_TYPES, BehaviorEvent
from nurture.leads.identities import link_visitor, lock_visitors
from nurture.observability.tracing import current_traceparent
from nurture.sending import gate as send_gate
from nurture.store.engine import Store, upsert_insert
from nurture.store.models import Event, EventDelivery, Journey, Lead


@dataclass(frozen=True)
class LoggedEvent:
    """An event and whom it belongs to: a known lead, or an anonymous visitor (or both)."""

    event: BehaviorEvent
    lead_id: str | None = None
    anonymous_id: str | None = None


def record_events(store: Store, batch: Sequence[LoggedEvent], *, deliver: bool = True) -> list[str]:
    """Store the batch in one transaction; returns the ids that were new (repeats are skipped).

    In the same transaction: each new event of a known lead is queued for every journey of
    that lead it concerns (`deliveries`, emptied by the relay), and a bounce or spam report
    suppresses all the lead's email (a clean list: never mail an address that bounced or
    complained).
    """
    if not batch:
        return []
    with store.session() as session:
        return record_events_in(session, batch, deliver=deliver)


def record_events_in(
    session: Session, batch: Sequence[LoggedEvent], *, deliver: bool = True
) -> list[str]:
    """`record_events` inside the caller's transaction (the API's group commits)."""
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
    # Rows passed as parameters, not baked into the statement: it compiles once per
    # process and runs as one multi-row INSERT ... RETURNING.
    statement = (
        upsert_insert(session, Event)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(Event.event_id)
    )
    new = set(session.scalars(statement, rows))
    fresh = [item for item in _unique(batch) if item.event.event_id in new]
    for item in fresh:
        if item.event.type in DELIVERY_ENDING_TYPES:
            _suppress_delivery(session, item)
    if deliver:
        route(session, [(item.lead_id, item.event) for item in fresh if item.lead_id])
    return [item.event.event_id for item in _unique(batch) if item.event.event_id in new]


def route(session: Session, events: Sequence[tuple[str, BehaviorEvent]]) -> int:
    """Queue each (lead, event) for the lead's journeys the event concerns; returns how many.

    An event for a product goes to that product's journey only; one without a product, and
    bounces, go to all of them. Repeats are ignored (unique per journey and event).
    """
    lead_ids = {lead_id for lead_id, _ in events}
    if not lead_ids:
        return 0
    journeys: dict[str, list[tuple[str, str]]] = {}
    for workflow_id, lead_id, product in session.execute(
        select(Journey.workflow_id, Journey.lead_id, Journey.product).where(
            Journey.lead_id.in_(lead_ids)
        )
    ):
        journeys.setdefault(lead_id, []).append((workflow_id, product))
    traceparent = current_traceparent()  # the relay's signal continues this trace
    rows = [
        {"workflow_id": workflow_id, "event_id": event.event_id, "traceparent": traceparent}
        for lead_id, event in events
        for workflow_id, product in journeys.get(lead_id, [])
        if event.product in (None, product) or event.type in DELIVERY_ENDING_TYPES
    ]
    if rows:
        session.execute(
            upsert_insert(session, EventDelivery).on_conflict_do_nothing(
                index_elements=["workflow_id", "event_id"]
            ),
            rows,
        )
    return len(rows)


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
    """Link an anonymous visitor to a lead: its later events belong to the lead at once, and
    its earlier ones are attached and queued for the lead's journeys (their event ids keep
    this replay idempotent); returns those in time order."""
    with store.session() as session:
        lock_visitors(session, [anonymous_id], exclusive=True)
        link_visitor(session, anonymous_id, lead_id)
        session.execute(
            update(Event)
            .where(Event.anonymous_id == anonymous_id, Event.lead_id.is_(None))
            .values(lead_id=lead_id)
        )
        events = [
            event_of(row)
            for row in session.scalars(
                select(Event)
                .where(Event.anonymous_id == anonymous_id, Event.lead_id == lead_id)
                .order_by(Event.occurred_at)
            )
        ]
        route(session, [(lead_id, event) for event in events])
        return events


def lead_timeline(store: Store, lead_id: str, limit: int = 100) -> list[BehaviorEvent]:
    """The lead's most recent events, newest first (served by ix_events_lead_time)."""
    with store.session() as session:
        rows = session.scalars(
            select(Event)
            .where(Event.lead_id == lead_id)
            .order_by(Event.occurred_at.desc())
            .limit(limit)
        )
        return [event_of(row) for row in rows]


def event_of(row: Event) -> BehaviorEvent:
    """A stored event as journeys see it. It was validated when it was accepted, so it is
    built without validating again (the relay does this for every event it delivers)."""
    return BehaviorEvent.model_construct(
        event_id=row.event_id,
        type=row.type,
        occurred_at=row.occurred_at,
        url=row.url,
        product=row.product,
        properties=row.properties or {},
    )
