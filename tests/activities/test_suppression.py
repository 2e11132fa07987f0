"""Recording a journey's unsubscribe: late, it must not undo the lead's newer choice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from temporalio.testing import ActivityEnvironment

from activities.suppression import SuppressionActivities, SuppressionInput
from nurture.leads import preferences as prefs
from nurture.sending import gate as send_gate
from nurture.store.engine import LeadIn, Store, lock_lead
from nurture.store.models import Lead
from tests.helpers.databases import postgres_database
from tests.helpers.paths import CONSENT


def suppressed(store: Store, lead_id: str) -> bool:
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        return send_gate.suppression_reason(session, lead, "acme", "step") is not None


def record(store: Store, lead_id: str, asked_at: datetime | None) -> None:
    asked = SuppressionInput(
        lead_id=lead_id,
        product="acme",
        scope="product",
        reason="unsubscribe link",
        asked_at=asked_at,
    )
    ActivityEnvironment().run(SuppressionActivities(store).record_suppression, asked)


def test_a_late_unsubscribe_does_not_undo_the_leads_welcome_back(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    asked_at = datetime.now(UTC)
    with store.session() as session:
        prefs.unsubscribe_all(session, session.get_one(Lead, lead.id), "acme")
    with store.session() as session:  # "Welcome back" on the preference page
        prefs.choose(session, session.get_one(Lead, lead.id), "acme", {"step"}, "Turned on")
    assert not suppressed(store, lead.id)

    record(store, lead.id, asked_at)  # the journey's record of the first unsubscribe, late

    assert not suppressed(store, lead.id)
    with store.session() as session:
        assert send_gate.has_consent(session, lead.id, "acme")


def test_an_unsubscribe_after_the_last_consent_is_recorded(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    record(store, lead.id, datetime.now(UTC) + timedelta(seconds=1))
    assert suppressed(store, lead.id)


def test_an_unsubscribe_taken_back_and_given_again_is_recorded(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    asked_at = datetime.now(UTC)
    for choice in ({"step"}, set()):  # back, then out again: the latest word is no
        with store.session() as session:
            prefs.choose(session, session.get_one(Lead, lead.id), "acme", choice, "Turned on")
    with store.session() as session:
        prefs.unsubscribe_all(session, session.get_one(Lead, lead.id), "acme")
    record(store, lead.id, asked_at)
    assert suppressed(store, lead.id)


def test_an_unsubscribe_without_a_time_is_recorded_as_before(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    record(store, lead.id, None)
    assert suppressed(store, lead.id)


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    """Only PostgreSQL lets a transaction read while another holds the lead: SQLite's
    writers queue at BEGIN, so the interleaving below cannot happen there."""
    for url in postgres_database():
        store = Store(url)
        store.upgrade()
        yield store
        store.engine.dispose()


def waiting_for_a_lock(store: Store) -> bool:
    with store.engine.connect() as connection:
        return bool(connection.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


def test_an_unsubscribe_recorded_while_the_lead_comes_back_does_not_undo_it(
    postgres_store: Store,
) -> None:
    """The journey's record lands while the preference page's "Welcome back" is being
    written: it must wait for it, then see the new consent, not slip its suppression in."""
    store = postgres_store
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    asked_at = datetime.now(UTC)
    with store.session() as session:
        prefs.unsubscribe_all(session, session.get_one(Lead, lead.id), "acme")
    with ThreadPoolExecutor(1) as pool, store.session() as page:  # the page's transaction
        lock_lead(page, lead.id)
        prefs.choose(page, page.get_one(Lead, lead.id), "acme", {"step"}, "Turned on")
        journey = pool.submit(record, store, lead.id, asked_at)
        deadline = time.monotonic() + 30
        while not (journey.done() or waiting_for_a_lock(store)):
            assert time.monotonic() < deadline, "the record neither finished nor waited"
            time.sleep(0.01)
    journey.result()

    assert not suppressed(store, lead.id)
    with store.session() as session:
        assert send_gate.has_consent(session, lead.id, "acme")
