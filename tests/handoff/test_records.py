"""Hand-off records (nurture/handoff/records.py), on real SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from nurture.config import Settings
from nurture.handoff.records import (
    NewHandoff,
    handoff_payload,
    mark_posted,
    record_handoff,
    webhook_post,
)
from nurture.scoring.score import ScoreBreakdown
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Handoff

T0 = datetime(2026, 11, 25, 3, tzinfo=UTC)


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


def record(store: Store, settings: Settings, lead_id: str, handoff_no: int = 1) -> Handoff:
    new = NewHandoff(
        journey_id=f"journey:acme:{lead_id}",
        handoff_no=handoff_no,
        lead_id=lead_id,
        product="acme",
        score=ScoreBreakdown(fit=30, behavior=45, total=75),
        moments=["pricing page"],
        journey_time=T0,
    )
    return record_handoff(store, settings, new)


def test_a_hand_off_is_recorded_once_with_what_sales_needs(
    store: Store, settings: Settings
) -> None:
    aiko = LeadIn(email="aiko@example.jp", first_name="Aiko", last_name="Sato")
    lead, _ = store.upsert_lead(aiko)
    settings.handoff_webhook_url = "https://crm.example/hook"
    first = record(store, settings, lead.id)
    with ThreadPoolExecutor(max_workers=4) as pool:  # retries, some at the same moment
        again = set(pool.map(lambda _: record(store, settings, lead.id).id, range(8)))
    assert again == {first.id} and first.webhook_status == "pending" and first.score == 75
    assert first.payload["lead"] == {
        "id": lead.id,
        "email": "aiko@example.jp",
        "name": "Aiko Sato",
        "company": None,
        "title": None,
    }
    assert first.payload["journey_url"].endswith(f"/workflows/journey:acme:{lead.id}")
    assert handoff_payload(store, f"journey:acme:{lead.id}", 1) == first.payload
    assert handoff_payload(store, f"journey:acme:{lead.id}", 2) is None
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Handoff)) == 1


def test_a_hand_off_is_posted_until_the_crm_has_it(store: Store, settings: Settings) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="kai@example.jp"))
    handoff = record(store, settings, lead.id, handoff_no=2)
    assert handoff.webhook_status == "none"  # no webhook configured
    post = webhook_post(store, handoff.id)
    assert post == (handoff.payload, f"journey:acme:{lead.id}#2")
    mark_posted(store, handoff.id)
    assert webhook_post(store, handoff.id) is None
