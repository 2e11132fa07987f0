"""The hand-off records: one row per (journey, hand-off number) in `handoffs`, with the
payload the CRM receives, and whether the CRM webhook has it yet.

The payload is built once, when the hand-off is recorded: who the lead is, its score and
the moments that made it hot, the emails it engaged with, and a link to its journey in the
Temporal UI. Everything that talks about the hand-off later (the CRM post, the emails to
sales) reads it from here, so no personal data travels through a journey's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nurture.config import Settings
from nurture.handoff.owners import assign_owner
from nurture.scenario.model import Owners
from nurture.scoring.engagement import engaged_emails
from nurture.scoring.score import ScoreBreakdown
from nurture.store.engine import Store, find_or_insert
from nurture.store.models import Handoff, Lead


@dataclass(frozen=True)
class NewHandoff:
    """A journey's hand-off as the journey knows it: ids, the score and the moments that
    made the lead hot, and the journey's clock when it handed the lead off."""

    journey_id: str
    handoff_no: int
    lead_id: str
    product: str
    score: ScoreBreakdown
    moments: list[str]
    journey_time: datetime
    owners: Owners | None = None  # several owners: the payload names the one assigned


def record_handoff(store: Store, settings: Settings, new: NewHandoff) -> Handoff:
    """Record the hand-off once: a retry (or a second worker) gets the row the first made.
    `webhook_status` is `pending` when a CRM webhook is configured to receive it."""
    payload = crm_payload(store, settings, new)  # reads the lead: outside the write transaction

    def insert(session: Session) -> Handoff:
        handoff = Handoff(
            journey_id=new.journey_id,
            handoff_no=new.handoff_no,
            lead_id=new.lead_id,
            product=new.product,
            score=new.score.total,
            payload=payload,
            webhook_status="pending" if settings.handoff_webhook_url else "none",
            journey_time=new.journey_time,
        )
        session.add(handoff)
        return handoff

    def recorded(session: Session) -> Handoff | None:
        return _handoff(session, new.journey_id, new.handoff_no)

    handoff, _ = find_or_insert(store, recorded, insert)
    return handoff


def crm_payload(store: Store, settings: Settings, new: NewHandoff) -> dict[str, Any]:
    """What sales gets for a hand-off: the lead as it is now, why it is handed off, and
    where to see its journey."""
    lead = store.get_lead(new.lead_id)
    ui = settings.temporal_ui_url.rstrip("/")
    namespace = settings.temporal_namespace
    return {
        "journey_id": new.journey_id,
        "product": new.product,
        "lead": {
            "id": new.lead_id,
            "email": lead.email if lead else None,
            "name": " ".join(p for p in (lead.first_name, lead.last_name) if p) if lead else None,
            "company": lead.company if lead else None,
            "title": lead.title if lead else None,
        },
        "score": new.score.model_dump(),
        "moments": new.moments,
        "emails": engaged_emails(store, new.lead_id, new.product),
        "handoff_no": new.handoff_no,
        "journey_url": f"{ui}/namespaces/{namespace}/workflows/{new.journey_id}",
        "handed_off_at": new.journey_time.isoformat(),
        **({"owner": _owner(store, new, lead)} if new.owners else {}),
    }


def _owner(store: Store, new: NewHandoff, lead: Lead | None) -> str:
    """The owner this hand-off goes to; round robin counts the product's earlier ones."""
    assert new.owners is not None
    with store.session() as session:
        earlier = session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.product == new.product)
        )
    return assign_owner(new.owners, lead, int(earlier or 0))


def handoff_payload(store: Store, journey_id: str, handoff_no: int) -> dict[str, Any] | None:
    """The recorded payload of a journey's hand-off (who the lead is, for the emails to
    sales), or None when that hand-off was never recorded."""
    with store.session() as session:
        handoff = _handoff(session, journey_id, handoff_no)
        return None if handoff is None else dict(handoff.payload)


def webhook_post(store: Store, handoff_id: int) -> tuple[dict[str, Any], str] | None:
    """What to post to the CRM for a hand-off, with its idempotency key (the journey and
    hand-off number, the same on every retry); None when it is posted already."""
    with store.session() as session:
        handoff = session.get_one(Handoff, handoff_id)
        if handoff.webhook_status == "posted":
            return None
        return handoff.payload, f"{handoff.journey_id}#{handoff.handoff_no}"


def mark_posted(store: Store, handoff_id: int) -> None:
    """The CRM accepted the hand-off: later posts of it are skipped."""
    with store.session() as session:
        session.get_one(Handoff, handoff_id).webhook_status = "posted"


def _handoff(session: Session, journey_id: str, handoff_no: int) -> Handoff | None:
    return session.scalars(
        select(Handoff).where(Handoff.journey_id == journey_id, Handoff.handoff_no == handoff_no)
    ).first()
