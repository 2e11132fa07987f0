"""Erasing a lead: personal data leaves the store, anonymised counts stay.

What goes: the address (kept only as a suppression hash, so a later import of the same
address is not mailed again), names, company, titles, free text (consent wording, event
URLs and properties, subjects, hand-off payloads, transition reasons). What stays: the
rows themselves with their types, times, scores and statuses, so funnel and precision
reports still add up. The journeys are terminated and their histories deleted by the
caller (`nurture lead erase`), since Temporal holds events of the lead too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from nurture.sending import gate as send_gate
from nurture.store.engine import Store, lock_lead
from nurture.store.models import (
    Consent,
    Engagement,
    Event,
    Handoff,
    Identity,
    LineLink,
    Send,
    Transition,
    utcnow,
)

# What identifies the person on the lead row; the email becomes a placeholder of its own.
PERSONAL_COLUMNS = (
    "external_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "department",
    "region",
    "timezone",
    "owner",
)


@dataclass
class ErasureReport:
    lead_id: str
    products: list[str] = field(default_factory=list)
    already_erased: bool = False


def erase_lead(store: Store, lead_id: str) -> ErasureReport:
    """Scrub one lead in one transaction; raises LookupError for an unknown id."""
    with store.session() as session:
        lead = lock_lead(session, lead_id)  # LeadNotFound is a LookupError
        report = ErasureReport(lead_id, sorted(_products(session, lead_id)))
        if lead.erased_at is not None:
            report.already_erased = True
            return report
        send_gate.suppress(session, email=lead.email, lead_id=None, scope="global", reason="erased")
        for column in PERSONAL_COLUMNS:
            setattr(lead, column, None)
        lead.email = f"erased+{lead.id}@erased.invalid"
        lead.erased_at = utcnow()
        session.execute(
            update(Consent).where(Consent.lead_id == lead_id).values(wording=None, source=None)
        )
        session.execute(
            update(Event)
            .where(Event.lead_id == lead_id)
            .values(url=None, properties={}, anonymous_id=None)
        )
        # What its emails achieved stays counted; the links it clicked go (a link may name it).
        session.execute(update(Engagement).where(Engagement.lead_id == lead_id).values(link=None))
        # the visitor's browser cookie must not lead back to the lead, nor its new events
        session.execute(delete(Identity).where(Identity.lead_id == lead_id))
        # its LINE user id is personal data, and its later LINE events are nobody's
        session.execute(delete(LineLink).where(LineLink.lead_id == lead_id))
        session.execute(update(Send).where(Send.lead_id == lead_id).values(subject=""))
        session.execute(update(Transition).where(Transition.lead_id == lead_id).values(reason=""))
        for handoff in session.scalars(select(Handoff).where(Handoff.lead_id == lead_id)):
            handoff.payload = {
                **handoff.payload,
                "lead": {"id": lead_id},
                "moments": [],
                "emails": [],
            }
        return report


def _products(session, lead_id: str) -> set[str]:
    products: set[str] = set()
    for model in (Send, Transition, Handoff):
        products |= set(session.scalars(select(model.product).where(model.lead_id == lead_id)))
    products |= {
        p for p in session.scalars(select(Event.product).where(Event.lead_id == lead_id)) if p
    }
    return products
