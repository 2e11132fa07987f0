"""Where each journey is now, kept in the store's `journey_status` as it records its moves.

Segments ask a journey's stage, lifecycle and score (nurture/segments/sql.py); finding the
last of every journey's moves at question time would scan them all. Each record of a
stage move or a transition updates the one row in the same transaction, and only forward:
records can arrive out of order (a stage move is recorded beside the journey), so a row
never goes back to an older move.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from nurture.store.engine import upsert_insert
from nurture.store.models import JourneyStatus


def keep_stage(
    session: Session,
    *,
    journey_id: str,
    lead_id: str,
    product: str,
    stage: str,
    seq: int,
    score: int,
    at: datetime,
) -> None:
    """The journey's stage move `seq` (and its score, when no later record has one)."""
    insert = upsert_insert(session, JourneyStatus).values(
        journey_id=journey_id,
        lead_id=lead_id,
        product=product,
        stage=stage,
        stage_seq=seq,
        lifecycle=None,
        lifecycle_seq=0,
        score=score,
        score_at=at,
    )
    table = JourneyStatus.__table__.c
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["journey_id"],
            set_={"stage": insert.excluded.stage, "stage_seq": insert.excluded.stage_seq},
            where=table.stage_seq < insert.excluded.stage_seq,
        )
    )
    _keep_score(session, journey_id, score, at)


def keep_lifecycle(
    session: Session,
    *,
    journey_id: str,
    lead_id: str,
    product: str,
    lifecycle: str,
    seq: int,
    stage: str,
    score: int,
    at: datetime,
) -> None:
    """The journey's transition `seq` (its stage only for a journey with no stage move)."""
    insert = upsert_insert(session, JourneyStatus).values(
        journey_id=journey_id,
        lead_id=lead_id,
        product=product,
        stage=stage,
        stage_seq=0,
        lifecycle=lifecycle,
        lifecycle_seq=seq,
        score=score,
        score_at=at,
    )
    table = JourneyStatus.__table__.c
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["journey_id"],
            set_={
                "lifecycle": insert.excluded.lifecycle,
                "lifecycle_seq": insert.excluded.lifecycle_seq,
            },
            where=table.lifecycle_seq < insert.excluded.lifecycle_seq,
        )
    )
    _keep_score(session, journey_id, score, at)


def _keep_score(session: Session, journey_id: str, score: int, at: datetime) -> None:
    session.query(JourneyStatus).filter(
        JourneyStatus.journey_id == journey_id, JourneyStatus.score_at < at
    ).update({"score": score, "score_at": at}, synchronize_session=False)
