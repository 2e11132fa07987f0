"""Whether a lead is in segments, asked by a journey judging a condition that names them
(a step's `only_if`, `entry`). A local activity: the answer is recorded in the journey's
history, so a replay takes the same path."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select
from temporalio import activity

from nurture.config import Settings
from nurture.segments.definitions import SegmentError
from nurture.segments.membership import segment_book
from nurture.store.engine import Store
from nurture.store.models import Lead, utcnow


class SegmentMembershipInput(BaseModel):
    lead_id: str
    segments: list[str]


class SegmentMembership(BaseModel):
    segments: list[str]
    problem: str | None = None  # why some could not be asked: the lead is in none of those


class SegmentActivities:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    @activity.defn(name="segment_membership")
    def segment_membership(self, input: SegmentMembershipInput) -> SegmentMembership:
        """The named segments the lead is in now. A segment no longer defined, or a file
        with problems, puts the lead in none of them (the journey notes why) instead of
        holding the journey until someone fixes the file."""
        try:
            book = segment_book(self.settings.scenarios_dir, self.store)
        except SegmentError as err:
            first = err.problems[0] if err.problems else err
            return SegmentMembership(segments=[], problem=f"the segments file: {first}")
        now = utcnow()
        found = []
        with self.store.session() as session:
            for name in input.segments:
                if name not in book.segments:
                    continue
                query = select(Lead.id).where(Lead.id == input.lead_id, book.where(name, now))
                if session.scalar(query) is not None:
                    found.append(name)
        missing = sorted(set(input.segments) - set(book.segments))
        problem = f"not defined any more: {', '.join(missing)}" if missing else None
        return SegmentMembership(segments=found, problem=problem)
