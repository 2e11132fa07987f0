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
                journey = f"journey:acme:old-{variant}-{i}"
                row = sent_row(send_id, lead.id, at, journey_id=journey, send_key=send_key,
                               variant=variant, provider="outbox")  # fmt: skip
                session.add(row)
                if i < clicked:
                    session.flush()
                    fact = Fact(fact_id=f"f-{send_id}", send_id=send_id, lead_id=lead.id,
                                product="acme", kind="clicked", human=True, source="nurture",
                                occurred_at=at)  # fmt: skip
                    record_facts_in(session, [fact])


def sent_row(
    send_id: str,
    lead_id: str,
    at: datetime,
    *,
    send_key: str = "cold#1/welcome",
    journey_id: str | None = None,
    variant: int = 0,
    mail_type: str = "step",
    status: str = "sent",
    provider: str = "smtp",
    subject: str = "s",
    template: str = "note",
    channel: str = "email",
) -> Send:
    """A `sends` row of acme's that went out at `at` (its journey's the lead's own unless
    given): what reports read, without a journey sending it."""
    return Send(id=send_id, journey_id=journey_id or f"journey:acme:{lead_id}",
                send_key=send_key, lead_id=lead_id, product="acme", mail_type=mail_type,
                template=template, subject=subject, variant=variant, provider=provider,
                journey_time=at, status=status, sent_at=at, channel=channel)  # fmt: skip
