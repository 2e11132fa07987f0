"""Past sends for the analytics tests: an A/B test's arms, with a person's clicks in each."""

from __future__ import annotations

from datetime import UTC, datetime

from nurture.analytics.facts import Fact, record_facts_in
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Send
from tests.helpers.paths import CONSENT


def ab_arms(
    store: Store,
    clicks: tuple[int, ...],
    *,
    per_arm: int = 30,
    send_key: str = "cold#1/guide",
    at: datetime = datetime(2026, 1, 5, tzinfo=UTC),
) -> None:
    """`per_arm` earlier emails of one step per variant (A, B, ...), each from a journey of
    its own, and in each arm that many clicks by a person."""
    lead, _ = store.upsert_lead(LeadIn(email="earlier@example.com", consent=CONSENT))
    with store.session() as session:
        for variant, clicked in enumerate(clicks):
            for i in range(per_arm):
                send_id = f"old-{variant}-{i}"
                session.add(
                    Send(id=send_id, journey_id=f"journey:acme:old-{variant}-{i}",
                         send_key=send_key, lead_id=lead.id, product="acme", mail_type="step",
                         template="note", subject="s", variant=variant, provider="outbox",
                         journey_time=at, status="sent", sent_at=at)
                )  # fmt: skip
                if i < clicked:
                    session.flush()
                    fact = Fact(fact_id=f"f-{send_id}", send_id=send_id, lead_id=lead.id,
                                product="acme", kind="clicked", human=True, source="nurture",
                                occurred_at=at)  # fmt: skip
                    record_facts_in(session, [fact])
