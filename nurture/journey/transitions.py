"""The journey's lifecycle moves as the store keeps them: one row per (journey, seq) in
`transitions`, with actor and reason, for audits and the hand-off precision report
(nurture/handoff/outcomes.py reads them back).

The journey numbers its moves; the number makes recording one idempotent, so a retry
after a lost reply, or a run replaying after continue-as-new, records nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.journey.status import keep_lifecycle
from nurture.store.engine import Store, find_or_insert
from nurture.store.models import Transition


def record_transition(
    store: Store,
    *,
    journey_id: str,
    seq: int,
    lead_id: str,
    product: str,
    from_lifecycle: str | None,
    to_lifecycle: str,
    stage: str,
    score: int,
    actor: str,
    reason: str,
    journey_time: datetime,
) -> bool:
    """Record move `seq` of the journey unless it is on record; True when recorded now."""

    def recorded(session: Session) -> int | None:
        return session.scalars(
            select(Transition.id).where(Transition.journey_id == journey_id, Transition.seq == seq)
        ).first()

    def insert(session: Session) -> int:
        row = Transition(
            journey_id=journey_id,
            seq=seq,
            lead_id=lead_id,
            product=product,
            from_lifecycle=from_lifecycle,
            to_lifecycle=to_lifecycle,
            stage=stage,
            score=score,
            actor=actor,
            reason=reason,
            journey_time=journey_time,
        )
        session.add(row)
        session.flush()
        keep_lifecycle(
            session,
            journey_id=journey_id,
            lead_id=lead_id,
            product=product,
            lifecycle=to_lifecycle,
            seq=seq,
            stage=stage,
            score=score,
            at=journey_time,
        )
        return row.id

    _, inserted = find_or_insert(store, recorded, insert)
    return inserted
