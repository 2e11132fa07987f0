"""Whether a lead is in segments, asked by a journey judging a condition that names them
(a step's `only_if`, `entry`). A local activity: the answer is recorded in the journey's
history, so a replay takes the same path."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from temporalio import activity

from nurture.config import Settings
from nurture.segments.membership import segment_book
from nurture.store.engine import Store
from nurture.store.models import Lead, utcnow


class SegmentMembershipInput(BaseModel):
    lead_id: str
    segments: list[str]


class SegmentActivities:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @activity.defn(name="segment_membership")
    def segment_membership(self, input: SegmentMembershipInput) -> list[str]:
        """The named segments the lead is in now (a segment no longer defined: not in it)."""
        book = segment_book(self.settings.scenarios_dir, self.store)
        now = utcnow()
        found = []
        with self.store.session() as session:
            for name in input.segments:
                if name not in book.segments:
                    activity.logger.warning(
                        "segment %r is not defined: the lead is not in it", name
                    )
                    continue
                query = select(Lead.id).where(Lead.id == input.lead_id, book.where(name, now))
                if session.scalar(query) is not None:
                    found.append(name)
        return found
