"""What a restarted journey carries from its closed runs, read back from the store.

A lead whose journey closed (its maximum age, an exit rule, a lost deal, a goal) may come
back: `start_journey` then starts a new run of the same workflow id. The new run must not
start from nothing: the lead's behaviour still scores, content it had is not sent again,
and the store's per-journey records (sends, transitions, hand-offs, stage moves) go on
numbering where the closed run stopped, or their unique keys would swallow the new ones.
All of it is in the store, which outlives Temporal's retention of the closed run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from nurture.journey.contract import JourneyMemory
from nurture.journey.lifecycle import Lifecycle
from nurture.journey.rules import first_unsent_step
from nurture.leads.events import BehaviorEvent
from nurture.scenario.model import Scenario
from nurture.scoring.score import Discount
from nurture.store.event_log import event_of
from nurture.store.models import Conversion, Event, Handoff, Send, StageChange, Transition

# `cold#2/welcome` (a step: track, entry, step key) and `trigger:download#3`, with `.line`
# after the number for a LINE send (rules.line_send_key).
STEP_KEY = re.compile(r"^(?P<track>[a-z0-9][a-z0-9_-]*)#(?P<entry>\d+)(\.line)?/(?P<step>[^~/]+)$")
TRIGGER_KEY = re.compile(r"^trigger:(?P<key>[^#]+)#(?P<count>\d+)(\.line)?$")
EVENTS_CARRIED = 300  # as many as a long journey keeps (scoring.relevant_events)
# What counts as an email the lead had (a send's status once it went out).
DELIVERED = frozenset({"sent", "delivered", "opened", "clicked"})


class CarryOver(BaseModel):
    """The closed runs' history, as the new run's memory needs it."""

    lifecycle: str | None = Field(default=None, description="where the last run left the lead")
    steps_sent: dict[str, list[str]] = Field(default_factory=dict)
    track_entries: int = 0
    trigger_counts: dict[str, int] = Field(default_factory=dict)
    trigger_fired_at: dict[str, datetime] = Field(default_factory=dict)
    emails_sent: int = 0
    handoffs: int = 0
    transitions: int = 0
    stage_moves: int = 0
    goals_reached: list[str] = Field(default_factory=list)
    events: list[BehaviorEvent] = Field(default_factory=list)
    handed_back_at: datetime | None = Field(
        default=None,
        description="the last time sales handed the lead back (recycled or lost): behaviour "
        "before it counts only `keep_behavior`, as it did in the closed run",
    )


def read_carry_over(
    session: Session, journey_id: str, lead_id: str, product: str, since: datetime
) -> CarryOver:
    """Everything of `journey_id`'s closed runs; the lead's events for the product since
    `since` (the newest EVENTS_CARRIED), which score as they would have."""
    sends = session.execute(
        select(Send.send_key, Send.status, Send.journey_time).where(
            Send.journey_id == journey_id, Send.mail_type != "sales"
        )
    ).all()
    carried = from_send_keys((key, at) for key, _, at in sends)
    carried.emails_sent = sum(1 for _, status, _ in sends if status in DELIVERED)
    carried.lifecycle = last_lifecycle(session, journey_id)
    carried.transitions = _most(session, Transition.seq, Transition.journey_id, journey_id)
    carried.handed_back_at = session.scalar(
        select(func.max(Transition.journey_time)).where(
            Transition.journey_id == journey_id,
            Transition.to_lifecycle.in_(("recycled", "lost")),
        )
    )
    carried.handoffs = _most(session, Handoff.handoff_no, Handoff.journey_id, journey_id)
    carried.stage_moves = _most(session, StageChange.seq, StageChange.journey_id, journey_id)
    carried.goals_reached = sorted(
        session.scalars(select(Conversion.goal).where(Conversion.journey_id == journey_id))
    )
    rows = session.scalars(
        select(Event)
        .where(
            Event.lead_id == lead_id,
            or_(Event.product == product, Event.product.is_(None)),
            Event.occurred_at >= since,
        )
        .order_by(Event.occurred_at.desc())
        .limit(EVENTS_CARRIED)
    )
    carried.events = sorted(
        (event_of(row) for row in rows), key=lambda e: (e.occurred_at, e.event_id)
    )
    return carried


def last_lifecycle(session: Session, journey_id: str) -> str | None:
    """Where the journey's last recorded lifecycle move left the lead."""
    return session.scalars(
        select(Transition.to_lifecycle)
        .where(Transition.journey_id == journey_id)
        .order_by(Transition.seq.desc())
        .limit(1)
    ).first()


def from_send_keys(keys: Iterable[tuple[str, datetime]]) -> CarryOver:
    """Steps had per track, the highest track entry, and each trigger's count and last
    firing, from the sends' keys (workflows/lead_journey.py writes them)."""
    carried = CarryOver()
    for key, at in keys:
        if step := STEP_KEY.match(key):
            had = carried.steps_sent.setdefault(step["track"], [])
            if step["step"] not in had:
                had.append(step["step"])
            carried.track_entries = max(carried.track_entries, int(step["entry"]))
        elif trigger := TRIGGER_KEY.match(key):
            name, count = trigger["key"], int(trigger["count"])
            carried.trigger_counts[name] = max(carried.trigger_counts.get(name, 0), count)
            last = carried.trigger_fired_at.get(name)
            carried.trigger_fired_at[name] = at if last is None else max(last, at)
    return carried


def restarted_memory(
    scenario: Scenario, carried: CarryOver, track: str, now: datetime
) -> JourneyMemory:
    """A restarted journey's memory: fresh (started now, on `track`, nothing pending) but
    for what it carries, so no step it had is sent again and the store's numbering goes on."""
    steps = scenario.tracks[track].steps
    keep = scenario.handoff.recycle.keep_behavior
    handed_back = carried.handed_back_at
    return JourneyMemory(
        started_at=now,
        scenario=scenario,
        lifecycle=cast("Lifecycle", carried.lifecycle or "nurturing"),
        track=track,
        track_entries=carried.track_entries + 1,
        step_index=first_unsent_step(steps, carried.steps_sent.get(track, [])),
        step_anchor=now,
        steps_sent=carried.steps_sent,
        events=carried.events,
        emails_sent=carried.emails_sent,
        trigger_fired_at=carried.trigger_fired_at,
        trigger_counts=carried.trigger_counts,
        handoffs=carried.handoffs,
        transitions=carried.transitions,
        stage_moves=carried.stage_moves,
        goals_reached=carried.goals_reached,
        seen_event_ids=[event.event_id for event in carried.events],
        discount=Discount(before=handed_back, keep=keep) if handed_back else None,
        restarted=True,
    )


def _most(session: Session, column: object, journey: object, journey_id: str) -> int:
    found = session.scalar(select(func.max(column)).where(journey == journey_id))  # type: ignore[arg-type]
    return int(found or 0)
