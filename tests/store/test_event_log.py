"""The event log on real SQLite and PostgreSQL: once per id, anonymous until identified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from nurture.leads.events import BehaviorEvent
from nurture.sending import gate as send_gate
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent, identify, lead_timeline, record_events
from nurture.store.models import Event, Lead, Send
from tests.helpers.paths import CONSENT

T0 = datetime(2026, 11, 25, 3, tzinfo=UTC)


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


def event(event_id: str, type: str = "page_view", minutes: int = 0) -> BehaviorEvent:
    return BehaviorEvent(
        event_id=event_id,
        type=type,
        occurred_at=T0 + timedelta(minutes=minutes),
        url="https://cloudbook.example.jp/pricing",
        product="cloudbook",
    )


def count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def test_each_event_is_stored_once_even_when_retried(store: Store) -> None:
    batch = [LoggedEvent(event("m1"), anonymous_id="anon-1"), LoggedEvent(event("m2"))]
    assert record_events(store, batch) == ["m1", "m2"]
    assert record_events(store, [*batch, LoggedEvent(event("m3"))]) == ["m3"]
    assert record_events(store, [LoggedEvent(event("m4")), LoggedEvent(event("m4"))]) == ["m4"]
    assert count(store) == 4


def test_identify_links_earlier_anonymous_events_to_the_lead(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp"))
    record_events(
        store, [LoggedEvent(event(f"a{i}", minutes=i), anonymous_id="anon-9") for i in range(3)]
    )
    replay = identify(store, "anon-9", lead.id)
    assert [e.event_id for e in replay] == ["a0", "a1", "a2"]
    assert [e.event_id for e in lead_timeline(store, lead.id)] == ["a2", "a1", "a0"]
    assert identify(store, "anon-unknown", lead.id) == []


def test_a_bounce_suppresses_all_email_of_the_lead(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="gone@example.jp", consent=CONSENT))
    record_events(store, [LoggedEvent(event("b1", "email_bounce"), lead_id=lead.id)])
    with store.session() as session:
        row = session.get_one(Lead, lead.id)
        assert send_gate.suppression_reason(session, row, "smartfactory", "step") == (
            "suppressed (all email): email_bounce"
        )
        assert session.scalar(select(func.count()).select_from(Send)) == 0
