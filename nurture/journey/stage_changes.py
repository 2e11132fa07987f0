"""The journey's stage moves (cold → warm → hot and back) as the store keeps them: one row
per (journey, seq) in `stage_changes`, read by the funnel and stage-flow reports
(nurture/analytics/funnel_report.py).

The journey numbers its moves, and move 1 is the stage it started in, so a lead's stage at
any moment is its last row before it. The number makes recording idempotent: a retry after
a lost reply, or a run that continued as new and records a move again, stores it once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.journey.contract import StageMove
from nurture.journey.status import keep_stage
from nurture.store.engine import Store, find_or_insert
from nurture.store.models import StageChange


def record_stage_move(store: Store, move: StageMove) -> bool:
    """Record the move unless it is on record; True when recorded now."""

    def recorded(session: Session) -> int | None:
        return session.scalars(
            select(StageChange.id).where(
                StageChange.journey_id == move.journey_id, StageChange.seq == move.seq
            )
        ).first()

    def insert(session: Session) -> int:
        row = StageChange(**move.model_dump())
        session.add(row)
        session.flush()
        keep_stage(
            session,
            journey_id=move.journey_id,
            lead_id=move.lead_id,
            product=move.product,
            stage=move.to_stage,
            seq=move.seq,
            score=move.score,
            at=move.journey_time,
        )
        return row.id

    _, inserted = find_or_insert(store, recorded, insert)
    return inserted
