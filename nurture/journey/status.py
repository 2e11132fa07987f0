"""Where each journey is now, kept in the store's `journey_status` as it records its moves.

Segments ask a journey's stage, lifecycle and score (nurture/segments/sql.py); finding the
last of every journey's moves at question time would scan them all. Each record of a
stage move or a transition updates the one row in the same transaction, and only forward:
records can arrive out of order (a stage move is recorded beside the journey), so a row
never goes back to an older move.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case
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
    row = JourneyStatus(
        journey_id=journey_id, lead_id=lead_id, product=product, stage=stage, stage_seq=seq,
        lifecycle=None, lifecycle_seq=0, score=score, score_at=at,
    )  # fmt: skip
    _upsert(session, row, ("stage", "stage_seq"))


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
    row = JourneyStatus(
        journey_id=journey_id, lead_id=lead_id, product=product, stage=stage, stage_seq=0,
        lifecycle=lifecycle, lifecycle_seq=seq, score=score, score_at=at,
    )  # fmt: skip
    _upsert(session, row, ("lifecycle", "lifecycle_seq"))


def _upsert(session: Session, row: JourneyStatus, moved: tuple[str, str]) -> None:
    """Insert the journey's row, or move `moved` (a value and its seq) forward only; then
    its score, when this record is the latest to have one."""
    columns = JourneyStatus.__table__.c
    values = {c.name: getattr(row, c.name) for c in columns}
    insert = upsert_insert(session, JourneyStatus).values(**values)
    value, seq = moved
    changes: dict[str, object] = {value: insert.excluded[value], seq: insert.excluded[seq]}
    if value == "lifecycle":  # a journey that recorded no stage move: the transition's stage
        changes["stage"] = case(
            (columns.stage_seq == 0, insert.excluded.stage), else_=columns.stage
        )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["journey_id"],
            set_=changes,
            where=columns[seq] < insert.excluded[seq],
        )
    )
    session.query(JourneyStatus).filter(
        JourneyStatus.journey_id == row.journey_id, JourneyStatus.score_at < row.score_at
    ).update({"score": row.score, "score_at": row.score_at}, synchronize_session=False)
