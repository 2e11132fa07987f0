"""Recording a journey's unsubscribe: late, it must not undo the lead's newer choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities.suppression import SuppressionActivities, SuppressionInput
from nurture.leads import preferences as prefs
from nurture.sending import gate as send_gate
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead
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
