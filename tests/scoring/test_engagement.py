"""What sales is told of the lead's email engagement: the emails a person opened or clicked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.leads.events import BehaviorEvent
from nurture.scoring.engagement import engaged_emails
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent, record_events
from nurture.store.models import Send
from tests.helpers.paths import CONSENT

T0 = datetime(2026, 11, 2, 1, tzinfo=UTC)


def sent(store: Store, lead_id: str, n: int, subject: str, product: str = "acme") -> str:
    send_id = f"snd_{product}_{n}"
    with store.session() as session:
        session.add(
            Send(
                id=send_id,
                journey_id=f"journey:{product}:{lead_id}",
                send_key=f"cold#1/s{n}",
                lead_id=lead_id,
                product=product,
                mail_type="step",
                template="note",
                subject=subject,
                variant=0,
                provider="outbox",
                status="sent",
                journey_time=T0 + timedelta(days=n),
            )
        )
    return send_id


def engaged(store: Store, lead_id: str, kind: str, send_id: str, machine: bool = False) -> None:
    event = BehaviorEvent(
        event_id=f"{kind}-{send_id}-{machine}",
        type=kind,
        occurred_at=T0 + timedelta(days=20),
        properties={"send_id": send_id, "machine_open": machine},
    )
    record_events(store, [LoggedEvent(event, lead_id=lead_id)], deliver=False)


def test_sales_sees_the_emails_a_person_opened_or_clicked(any_store: Store) -> None:
    lead, _ = any_store.upsert_lead(LeadIn(email="aiko@example.com", consent=CONSENT))
    welcome = sent(any_store, lead.id, 1, "Welcome, Aiko")
    guide = sent(any_store, lead.id, 2, "A guide for you")
    scanned = sent(any_store, lead.id, 3, "Benchmark")
    other = sent(any_store, lead.id, 4, "Other product", product="beta")
    engaged(any_store, lead.id, "email_open", welcome)
    engaged(any_store, lead.id, "email_open", guide)
    engaged(any_store, lead.id, "email_click", guide)
    engaged(any_store, lead.id, "email_open", scanned, machine=True)  # a privacy proxy
    engaged(any_store, lead.id, "email_open", other)

    emails = engaged_emails(any_store, lead.id, "acme")

    assert [(e["subject"], e["clicked"]) for e in emails] == [
        ("A guide for you", True),  # newest first
        ("Welcome, Aiko", False),
    ]
    assert engaged_emails(any_store, "ld_nobody", "acme") == []
