"""The rows a scoring suggestion learns from: each hand-off sales received, with what each
of the scenario's rules saw of the lead at the moment of the hand-off.

A row holds the rules' units (nurture/scoring/score.py `rule_units`), the outcome and the
hand-off's time, and nothing that names the lead: what is learnt and shown is per rule.
Open hand-offs are kept for the volume a threshold brings; only decided ones are learnt
from. Leads never handed off have no outcome and are not rows at all (the selection bias
every suggestion states).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from nurture.handoff.outcomes import HandoffOutcome, Outcome, load_outcomes
from nurture.journey.carry_over import DELIVERED
from nurture.leads.events import BehaviorEvent
from nurture.scenario.model import Scenario
from nurture.scoring.score import rule_units
from nurture.store.engine import Store, profile_of
from nurture.store.event_log import event_of
from nurture.store.models import Event, Handoff, Lead, Send

CHUNK = 500  # leads per query: bounded IN lists on both engines


@dataclass(frozen=True)
class Row:
    """One delivered hand-off as the model sees it."""

    outcome: Outcome
    handed_off_at: datetime
    recorded_score: int
    """The score the journey handed the lead off at (the report's calibration uses it)."""
    units: dict[str, float]

    @property
    def decided(self) -> bool:
        return self.outcome in ("won", "lost", "rejected", "disqualified")

    @property
    def won(self) -> bool:
        return self.outcome == "won"


def load_rows(
    store: Store,
    scenario: Scenario,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Row]:
    """Every hand-off of the scenario's product made in [since, until) that reached sales,
    in time order, each with its rules' units at the moment it was made."""
    outcomes = [
        o
        for o in load_outcomes(store, product=scenario.product, since=since, until=until)
        if o.delivered
    ]
    rows: list[Row] = []
    for part in _chunks(outcomes):
        rows.extend(_rows_of(store, scenario, part))
    return sorted(rows, key=lambda r: (r.handed_off_at, r.recorded_score))


def _chunks(outcomes: Sequence[HandoffOutcome]) -> Iterator[Sequence[HandoffOutcome]]:
    for start in range(0, len(outcomes), CHUNK):
        yield outcomes[start : start + CHUNK]


def _rows_of(store: Store, scenario: Scenario, outcomes: Sequence[HandoffOutcome]) -> list[Row]:
    """The rows of a chunk of hand-offs: three queries, whatever its size."""
    journeys = {o.journey_id for o in outcomes}
    with store.session() as session:
        lead_of = dict(
            session.execute(
                select(Handoff.journey_id, Handoff.lead_id)
                .where(Handoff.journey_id.in_(journeys))
                .distinct()
            ).all()
        )
        leads = {
            lead.id: lead
            for lead in session.scalars(select(Lead).where(Lead.id.in_(set(lead_of.values()))))
        }
        latest = max(o.handed_off_at for o in outcomes)
        events: dict[str, list[BehaviorEvent]] = defaultdict(list)
        for row in session.scalars(
            select(Event).where(
                Event.lead_id.in_(set(lead_of.values())),
                or_(Event.product == scenario.product, Event.product.is_(None)),
                Event.occurred_at <= latest,
            )
        ):
            events[row.lead_id or ""].append(event_of(row))
        sends: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for send_id, journey_id, at in session.execute(
            select(Send.id, Send.journey_id, Send.journey_time).where(
                Send.journey_id.in_(journeys),
                Send.status.in_(DELIVERED),
                Send.mail_type != "sales",
            )
        ):
            sends[journey_id].append((at, send_id))
    rows = []
    for o in outcomes:
        lead = leads.get(lead_of.get(o.journey_id, ""))
        if lead is None:  # erased since: nothing left to learn from
            continue
        sent = [send_id for at, send_id in sorted(sends[o.journey_id]) if at <= o.handed_off_at]
        units = rule_units(
            profile_of(lead),
            events[lead.id],
            o.handed_off_at,
            scenario,
            sent_ids=sent,
        )
        rows.append(Row(o.outcome, o.handed_off_at, o.score, units))
    return rows
