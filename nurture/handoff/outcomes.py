"""What became of each hand-off, read from the store's `handoffs` and `transitions`.

A journey can hand its lead to sales more than once (sales rejects, the lead is recycled,
becomes hot again). Each hand-off is judged on its own, because each is one lead that sales
had to follow up: the k-th hand-off of a journey owns the transitions from the journey's
k-th move into `mql` (the journey counts hand-offs as it enters `mql`) up to the next one.

Outcomes, in the words of sales:
- `won`: the lead became a customer;
- `lost`: accepted, worked, and lost;
- `rejected`: sales sent it back to nurturing (recycled), before or after accepting it;
- `disqualified`: sales (or anyone) disqualified it;
- `open`: no outcome yet (handed off, accepted, sql or opportunity), or its transitions are
  not in the store;
- `withdrawn`: it never reached sales: the lead unsubscribed, bounced or was disqualified
  while the hand-off was being recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select

from nurture.store.engine import Store
from nurture.store.models import Handoff, Transition

Outcome = Literal["won", "lost", "rejected", "disqualified", "open", "withdrawn"]
DECIDED: frozenset[str] = frozenset({"won", "lost", "rejected", "disqualified"})

# Actors the journey itself records (workflows/lead_journey.py): the journey's own moves, a
# provider's bounce, a lead's unsubscribe. Every other actor is a sales feedback's `by`
# ("sales" unless the CRM names the rep), so the first transition by any other actor after
# the hand-off is the first time sales touched the lead.
SYSTEM_ACTORS: frozenset[str] = frozenset({"journey", "provider", "lead"})
ACCEPTED_STATES: frozenset[str] = frozenset({"sal", "sql", "opportunity", "customer", "lost"})
_OUTCOME_OF_STATE: dict[str, Outcome] = {
    "customer": "won",
    "lost": "lost",
    "recycled": "rejected",
    "disqualified": "disqualified",
}


@dataclass(frozen=True)
class Move:
    """One recorded lifecycle transition, only the columns the report needs."""

    seq: int
    to_lifecycle: str
    actor: str
    journey_time: datetime


@dataclass(frozen=True)
class HandoffOutcome:
    """One hand-off with the score it was made at and what sales made of it."""

    journey_id: str
    handoff_no: int
    product: str
    score: int
    handed_off_at: datetime
    outcome: Outcome
    accepted: bool | None
    """True: reached sal or beyond (even if later rejected or lost); False: rejected or
    disqualified straight from `handed_off`; None: sales has not answered yet."""
    first_touch: timedelta | None
    """From the hand-off to the first transition sales made; None while untouched."""

    @property
    def decided(self) -> bool:
        return self.outcome in DECIDED

    @property
    def delivered(self) -> bool:
        """Sales received it (everything but `withdrawn`)."""
        return self.outcome != "withdrawn"


def classify(
    journey_id: str,
    handoff_no: int,
    product: str,
    score: int,
    recorded_at: datetime,
    segment: list[Move] | None,
) -> HandoffOutcome:
    """Judge one hand-off from its segment of transitions (starting at its `mql` move)."""

    def result(
        outcome: Outcome,
        at: datetime = recorded_at,
        accepted: bool | None = None,
        touch: timedelta | None = None,
    ) -> HandoffOutcome:
        return HandoffOutcome(journey_id, handoff_no, product, score, at, outcome, accepted, touch)

    if not segment:
        return result("open")
    handed = next((i for i, m in enumerate(segment) if m.to_lifecycle == "handed_off"), None)
    if handed is None:
        # Still being recorded, or the lead left before sales saw it.
        return result("withdrawn" if len(segment) > 1 else "open")
    handed_at = segment[handed].journey_time
    accepted: bool | None = None
    touch: timedelta | None = None
    outcome: Outcome = "open"
    for move in segment[handed + 1 :]:
        if touch is None and move.actor not in SYSTEM_ACTORS:
            touch = move.journey_time - handed_at
        if move.to_lifecycle in ACCEPTED_STATES:
            accepted = True
        if move.to_lifecycle in _OUTCOME_OF_STATE:
            outcome = _OUTCOME_OF_STATE[move.to_lifecycle]
            if accepted is None:
                accepted = False
            break
    return result(outcome, handed_at, accepted, touch)


def split_by_handoff(moves: Iterable[Move]) -> dict[int, list[Move]]:
    """A journey's transitions, grouped by the hand-off they follow (1, 2, ...)."""
    segments: dict[int, list[Move]] = {}
    current = 0
    for move in sorted(moves, key=lambda m: m.seq):
        if move.to_lifecycle == "mql":
            current += 1
            segments[current] = []
        if current:
            segments[current].append(move)
    return segments


def load_outcomes(
    store: Store,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[HandoffOutcome]:
    """Every hand-off made in [since, until) (of one product, or all), with its outcome."""
    handoffs = select(
        Handoff.journey_id,
        Handoff.handoff_no,
        Handoff.product,
        Handoff.score,
        Handoff.journey_time,
    )
    if product is not None:
        handoffs = handoffs.where(Handoff.product == product)
    if since is not None:
        handoffs = handoffs.where(Handoff.journey_time >= since)
    if until is not None:
        handoffs = handoffs.where(Handoff.journey_time < until)
    journeys = handoffs.with_only_columns(Handoff.journey_id).distinct()
    moves_query = select(
        Transition.journey_id,
        Transition.seq,
        Transition.to_lifecycle,
        Transition.actor,
        Transition.journey_time,
    ).where(Transition.journey_id.in_(journeys))
    with store.session() as session:
        rows = session.execute(handoffs).all()
        by_journey: dict[str, list[Move]] = defaultdict(list)
        for journey_id, seq, to, actor, at in session.execute(moves_query):
            by_journey[journey_id].append(Move(seq, to, actor, at))
    segments = {journey: split_by_handoff(moves) for journey, moves in by_journey.items()}
    return [
        classify(journey_id, no, prod, score, at, segments.get(journey_id, {}).get(no))
        for journey_id, no, prod, score, at in rows
    ]
