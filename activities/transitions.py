"""Recording lifecycle transitions in the store, for audits and the hand-off precision report."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from nurture.journey.transitions import record_transition
from nurture.store.engine import Store


class TransitionInput(BaseModel):
    journey_id: str
    seq: int
    lead_id: str
    product: str
    from_lifecycle: str | None
    to_lifecycle: str
    stage: str
    score: int
    actor: str
    reason: str
    journey_time: datetime


class TransitionActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_transition")
    def record_transition(self, input: TransitionInput) -> None:
        """Idempotent on (journey, seq): a retry after a lost reply records nothing twice."""
        record_transition(self.store, **input.model_dump())
