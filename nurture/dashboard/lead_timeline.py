"""One lead's story as the store keeps it: events, emails and what happened to them,
stage and lifecycle moves, newest first. The lead page shows it beside the journey's live
state (which only Temporal knows), so the page says something even when Temporal is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.store.engine import Store
from nurture.store.models import Engagement, Event, Journey, Lead, Send, StageChange, Transition

MOST = 200


@dataclass(frozen=True)
class Moment:
    at: datetime
    kind: str  # event | email | engagement | stage | lifecycle
    product: str | None
    text: str


@dataclass
class LeadStory:
    lead: Lead
    journeys: list[Journey]
    moments: list[Moment]


def lead_story(store: Store, lead_id: str) -> LeadStory | None:
    """The lead, its journeys and its latest moments (at most 200); None: no such lead."""
    with store.session() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            return None
        journeys = list(session.scalars(select(Journey).where(Journey.lead_id == lead_id)))
        moments = [*_events(session, lead_id), *_emails(session, lead_id)]
        moments += [*_engagements(session, lead_id), *_moves(session, lead_id)]
        session.expunge_all()
    moments.sort(key=lambda m: m.at, reverse=True)
    return LeadStory(lead=lead, journeys=journeys, moments=moments[:MOST])


def _latest(session: Session, model: Any, lead_id: str, at: Any) -> list[Any]:
    """The lead's newest rows of one table, by the time column `at`."""
    query = select(model).where(model.lead_id == lead_id).order_by(at.desc()).limit(MOST)
    return list(session.scalars(query))


def _events(session: Session, lead_id: str) -> list[Moment]:
    return [
        Moment(e.occurred_at, "event", e.product, e.type + (f" {e.url}" if e.url else ""))
        for e in _latest(session, Event, lead_id, Event.occurred_at)
    ]


def _emails(session: Session, lead_id: str) -> list[Moment]:
    return [
        Moment(
            s.sent_at or s.journey_time,
            "email",
            s.product,
            f"{s.send_key} “{s.subject}” ({s.status})",
        )
        for s in _latest(session, Send, lead_id, Send.journey_time)
    ]


def _engagements(session: Session, lead_id: str) -> list[Moment]:
    moments = []
    for f in _latest(session, Engagement, lead_id, Engagement.occurred_at):
        who = ""
        if f.human is not None:
            who = " by a person" if f.human else f" by a machine ({f.machine_reason})"
        moments.append(Moment(f.occurred_at, "engagement", f.product,
                              f"{f.kind}{who}" + (f" {f.link}" if f.link else "")))  # fmt: skip
    return moments


def _moves(session: Session, lead_id: str) -> list[Moment]:
    moments = [
        Moment(s.journey_time, "stage", s.product,
               f"{s.from_stage or 'start'} → {s.to_stage} (score {s.score}, track {s.track})")
        for s in _latest(session, StageChange, lead_id, StageChange.journey_time)
    ]  # fmt: skip
    for t in _latest(session, Transition, lead_id, Transition.journey_time):
        why = f": {t.reason}" if t.reason else ""
        text = f"{t.from_lifecycle or 'start'} → {t.to_lifecycle} by {t.actor}{why}"
        moments.append(Moment(t.journey_time, "lifecycle", t.product, text))
    return moments
