"""Recording a journey's stage moves in the store, for the funnel and stage-flow reports.

An activity on the task queue, run beside the journey (workflows/journey_base.py): the
journey never waits for it, and a store outage delays the record, not the journey.
"""

from __future__ import annotations

from temporalio import activity

from nurture.journey.contract import StageMove
from nurture.journey.stage_changes import record_stage_move
from nurture.store.engine import Store


class StageActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_stage_move")
    def record_stage_move(self, move: StageMove) -> None:
        """Idempotent on (journey, seq)."""
        record_stage_move(self.store, move)
