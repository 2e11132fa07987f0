"""Reading what a restarted journey carries from its closed runs (nurture/journey/carry_over.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from nurture.journey.carry_over import CarryOver, read_carry_over
from nurture.store.engine import Store


class CarryOverInput(BaseModel):
    journey_id: str
    lead_id: str
    product: str
    events_since: datetime


class RestartActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="carry_over")
    def carry_over(self, input: CarryOverInput) -> CarryOver:
        """Read-only: a retry reads the same rows again."""
        with self.store.session() as session:
            return read_carry_over(
                session, input.journey_id, input.lead_id, input.product, input.events_since
            )
