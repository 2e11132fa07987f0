"""Send-time optimisation's fallback: the hour leads of each role open and click in.

A lead with too few opens of its own borrows its role's hour (executives and
practitioners read mail at different times), measured over recent human opens and clicks
of this product's email in each lead's own timezone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import select

from nurture.leads.events import EMAIL_CLICK, EMAIL_OPEN, BehaviorEvent
from nurture.schedule.send_window import open_hours, preferred_send_hour
from nurture.store.engine import Store
from nurture.store.event_log import event_of
from nurture.store.models import Event, Lead, utcnow

LOOKBACK = timedelta(days=90)
MIN_ROLE_EVENTS = 20  # fewer than this and a role's hour is noise
MAX_EVENTS = 20_000  # the most recent ones are enough to find an hour


def role_send_hours(store: Store, product: str, default_timezone: str) -> dict[str, int]:
    """role → its best local hour, for the roles with enough human opens and clicks."""
    by_role: dict[str, Counter[int]] = defaultdict(Counter)
    with store.session() as session:
        rows = session.execute(
            select(Event, Lead.role, Lead.timezone)
            .join(Lead, Lead.id == Event.lead_id)
            .where(
                Event.type.in_((EMAIL_OPEN, EMAIL_CLICK)),
                Event.product == product,
                Event.occurred_at > utcnow() - LOOKBACK,
            )
            .order_by(Event.occurred_at.desc())
            .limit(MAX_EVENTS)
        )
        events: list[tuple[BehaviorEvent, str, str]] = [
            (event_of(event), role or "other", timezone or default_timezone)
            for event, role, timezone in rows
        ]
    for event, role, timezone in events:
        by_role[role] += open_hours([event], timezone)
    hours = {role: preferred_send_hour(counts, MIN_ROLE_EVENTS) for role, counts in by_role.items()}
    return {role: hour for role, hour in hours.items() if hour is not None}
