"""What a scoring suggestion learns from: each hand-off sales received, with what the
lead had done and was at that moment; and the leads never handed off, whose scores under
new points say how many more a new threshold would send.

A hand-off's evidence is what its journey scored it on: the lead's profile, its events
for the product that had happened and arrived by the hand-off, the emails (not LINE or
webhook messages) sent before it for "every email opened", and a recycled lead's discount.
The rows keep that evidence to be re-scored under suggested points; what leaves this module
is per rule and never names a lead. Erased leads are left out (their events were scrubbed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nurture.handoff.outcomes import DECIDED, HandoffOutcome, Outcome, load_outcomes
from nurture.journey.carry_over import DELIVERED
from nurture.journey.rules import meets_handoff_conditions
from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.model import Scenario
from nurture.scoring.score import Discount, event_horizon, rule_units, score_lead
from nurture.store.engine import Store, profile_of
from nurture.store.event_log import event_of
from nurture.store.models import Event, Handoff, Journey, Lead, Send, Transition

CHUNK = 500  # leads per query: bounded IN lists on both engines


@dataclass(frozen=True)
class Evidence:
    """What a journey scores a lead on at one moment."""

    profile: LeadProfile
    events: tuple[BehaviorEvent, ...]
    sent_ids: tuple[str, ...] = ()
    discount: Discount | None = None

    def score(self, scenario: Scenario, at: datetime) -> int:
        return score_lead(
            self.profile,
            self.events,
            at,
            scenario,
            sent_ids=self.sent_ids,
            discount=self.discount,
        ).total

    def units(self, scenario: Scenario, at: datetime) -> dict[str, float]:
        return rule_units(
            self.profile,
            self.events,
            at,
            scenario,
            sent_ids=self.sent_ids,
            discount=self.discount,
        )

    def eligible(self, scenario: Scenario, at: datetime) -> bool:
        """Whether the hand-off's other conditions (fit, buying signals) held at `at`."""
        fit = score_lead(self.profile, (), at, scenario).fit
        happened = [e for e in self.events if e.occurred_at <= at]
        return meets_handoff_conditions(scenario, fit, happened, self.discount)


@dataclass(frozen=True)
class Row:
    """One delivered hand-off."""

    outcome: Outcome
    handed_off_at: datetime
    recorded_score: int
    """The score the journey handed the lead off at."""
    group: int
    """Its journey, by number: a journey's hand-offs stay in one cross-validation fold."""
    units: dict[str, float]
    evidence: Evidence = field(repr=False, compare=False)

    @property
    def decided(self) -> bool:
        return self.outcome in DECIDED

    @property
    def won(self) -> bool:
        return self.outcome == "won"


@dataclass(frozen=True)
class Unlabelled:
    """A lead of the product never handed off in the period: no outcome, but a score that
    new points may lift over a new threshold (counted in its volume, not its precision)."""

    evidence: Evidence
    moments: tuple[datetime, ...]
    """When its score peaked, if ever: right after each of its events in the period."""

    def peak(self, scenario: Scenario) -> int | None:
        """Its highest score under `scenario` at a moment it met the hand-off's other
        conditions; None if it never did."""
        scores = [
            self.evidence.score(scenario, at)
            for at in self.moments
            if self.evidence.eligible(scenario, at)
        ]
        return max(scores, default=None)


@dataclass(frozen=True)
class Dataset:
    rows: list[Row]
    unlabelled: list[Unlabelled]
    erased: int
    """Hand-offs of erased leads, left out."""


def load_dataset(
    store: Store, scenario: Scenario, *, since: datetime | None, until: datetime
) -> Dataset:
    """The product's hand-offs made in [since, until) that reached sales, each with its
    rules' units at the moment it was made, and the product's other leads."""
    outcomes = sorted(
        (
            o
            for o in load_outcomes(store, product=scenario.product, since=since, until=until)
            if o.delivered
        ),
        key=lambda o: (o.handed_off_at, o.journey_id, o.handoff_no),
    )
    groups = {journey: n for n, journey in enumerate(sorted({o.journey_id for o in outcomes}))}
    rows: list[Row] = []
    erased = 0
    for part in _chunks(outcomes):
        loaded, left_out = _rows_of(store, scenario, part, groups)
        rows.extend(loaded)
        erased += left_out
    start = since or min((o.handed_off_at for o in outcomes), default=None)
    unlabelled = _unlabelled(store, scenario, since=start, until=until)
    return Dataset(rows, unlabelled, erased)


def _chunks(items: Sequence[HandoffOutcome]) -> Iterator[Sequence[HandoffOutcome]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _events(
    session: Session,
    product: str,
    lead_ids: set[str],
    until: datetime,
    since: datetime | None = None,
) -> dict[str, list[tuple[BehaviorEvent, datetime]]]:
    """Each lead's events for the product (or for every product) in [since, until], with
    the moment each arrived: an event that arrived after a hand-off did not score it."""
    found: dict[str, list[tuple[BehaviorEvent, datetime]]] = defaultdict(list)
    for row in session.scalars(
        select(Event)
        .where(
            Event.lead_id.in_(lead_ids),
            or_(Event.product == product, Event.product.is_(None)),
            Event.occurred_at <= until,
            Event.occurred_at >= (since or datetime.min.replace(tzinfo=UTC)),
        )
        .order_by(Event.occurred_at, Event.event_id)
    ):
        found[row.lead_id or ""].append((event_of(row), row.received_at))
    return found


def _rows_of(
    store: Store,
    scenario: Scenario,
    outcomes: Sequence[HandoffOutcome],
    groups: dict[str, int],
) -> tuple[list[Row], int]:
    """The rows of a chunk of hand-offs (four queries, whatever its size), and how many
    were left out because their lead was erased."""
    journeys = {o.journey_id for o in outcomes}
    latest = max(o.handed_off_at for o in outcomes)
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
        events = _events(session, scenario.product, set(lead_of.values()), latest)
        sends: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for send_id, journey_id, at in session.execute(
            select(Send.id, Send.journey_id, Send.journey_time).where(
                Send.journey_id.in_(journeys),
                Send.status.in_(DELIVERED),
                Send.channel == "email",
                Send.mail_type != "sales",
            )
        ):
            sends[journey_id].append((at, send_id))
        recycles: dict[str, list[datetime]] = defaultdict(list)
        for journey_id, at in session.execute(
            select(Transition.journey_id, Transition.journey_time).where(
                Transition.journey_id.in_(journeys), Transition.to_lifecycle == "recycled"
            )
        ):
            recycles[journey_id].append(at)
    rows = []
    erased = 0
    keep = scenario.handoff.recycle.keep_behavior
    for o in outcomes:
        lead = leads.get(lead_of.get(o.journey_id, ""))
        if lead is None or lead.erased_at is not None:
            erased += 1
            continue
        at = o.handed_off_at
        handed_back = max((t for t in recycles[o.journey_id] if t <= at), default=None)
        evidence = Evidence(
            profile=profile_of(lead),
            events=tuple(e for e, arrived in events[lead.id] if arrived <= at),
            sent_ids=tuple(s for t, s in sorted(sends[o.journey_id]) if t <= at),
            discount=Discount(before=handed_back, keep=keep) if handed_back else None,
        )
        rows.append(
            Row(
                o.outcome, at, o.score, groups[o.journey_id], evidence.units(scenario, at), evidence
            )
        )
    return rows, erased


MOMENTS = 400  # a lead's most recent moments scored for its peak: a bound on the cost


def _moments(times: Iterable[datetime]) -> tuple[datetime, ...]:
    """When a score may peak: right after one of the lead's events (between them it only
    decays, or a pattern's window slides past), the most recent MOMENTS of them."""
    return tuple(sorted(set(times)))[-MOMENTS:]


def _unlabelled(
    store: Store,
    scenario: Scenario,
    *,
    since: datetime | None,
    until: datetime,
) -> list[Unlabelled]:
    """The product's leads with a journey, never handed off for it before `until` and not
    erased, that did something in the period: their events from the decay horizon before
    it, their emails, and the moments their score may have peaked."""
    horizon = since - event_horizon(scenario.scoring) if since else None
    product = scenario.product
    with store.session() as session:
        ever_handed_off = select(Handoff.lead_id).where(
            Handoff.product == product, Handoff.journey_time < until
        )
        lead_ids = sorted(
            session.scalars(
                select(Journey.lead_id)
                .join(Lead, Lead.id == Journey.lead_id)
                .where(
                    Journey.product == product,
                    Lead.erased_at.is_(None),
                    Journey.lead_id.not_in(ever_handed_off),
                )
            )
        )
        found = []
        for start in range(0, len(lead_ids), CHUNK):
            part = set(lead_ids[start : start + CHUNK])
            events = _events(session, product, part, until, since=horizon)
            active = {lead for lead in part if events[lead]}
            if not active:
                continue
            sends: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
            for send_id, lead_id, at in session.execute(
                select(Send.id, Send.lead_id, Send.journey_time).where(
                    Send.lead_id.in_(active),
                    Send.product == product,
                    Send.status.in_(DELIVERED),
                    Send.channel == "email",
                    Send.mail_type != "sales",
                )
            ):
                sends[lead_id].append((at, send_id))
            for lead in sorted(
                session.scalars(select(Lead).where(Lead.id.in_(active))), key=lambda x: x.id
            ):
                own = tuple(e for e, _ in events[lead.id])
                moments = _moments(
                    e.occurred_at for e in own if since is None or e.occurred_at >= since
                )
                if moments:
                    sent = tuple(send_id for _, send_id in sorted(sends[lead.id]))
                    evidence = Evidence(profile_of(lead), own, sent_ids=sent)
                    found.append(Unlabelled(evidence, moments))
    return found
