"""Recording a journey's conversion (a scenario goal reached) in the store, for analytics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity

from nurture.store.engine import Store, upsert_insert
from nurture.store.models import Conversion


class ConversionInput(BaseModel):
    journey_id: str
    lead_id: str
    product: str
    goal: str
    journey_time: datetime


class ConversionActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_conversion")
    def record_conversion(self, input: ConversionInput) -> None:
        """Once per (journey, goal): a retry after a lost reply records nothing twice."""
        with self.store.session() as session:
            session.execute(
                upsert_insert(session, Conversion)
                .values(**input.model_dump())
                .on_conflict_do_nothing(index_elements=["journey_id", "goal"])
            )
