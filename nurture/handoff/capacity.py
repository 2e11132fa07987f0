"""A product's daily hand-off capacity and the queue of leads waiting for it: a small
sales team wants fewer, better leads, at a rate it can follow up.

A journey whose lead qualifies asks for a slot. It gets one when fewer queued hand-offs of
that product rank ahead of it (higher score, then earlier in the queue) than the day has
slots left; otherwise it waits and asks again, with its current score, when the next day
opens or its score changes. Asking again is idempotent; a place nobody asked for since
the day before is ignored (its journey ended without leaving). Requests of one product are
serialised (an advisory lock on PostgreSQL, the write lock on SQLite), so two journeys
never take the last slot of a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.orm import Session

from nurture.store.engine import Store
from nurture.store.models import HandoffSlot, utcnow


@dataclass(frozen=True)
class SlotRequest:
    journey_id: str
    handoff_no: int
    product: str
    score: int
    day: date  # the product's local day, from the journey's clock
    capacity: int


@dataclass(frozen=True)
class Slot:
    """`granted`, or the 1-based place in the queue (1: next in line)."""

    granted: bool
    position: int = 0


def request_slot(store: Store, request: SlotRequest) -> Slot:
    """A slot of `request.day`'s capacity for this hand-off, or its place in the queue."""
    with store.session() as session:
        _lock_product(session, request.product)
        row = session.get(HandoffSlot, (request.journey_id, request.handoff_no))
        if row is not None and row.granted_day is not None:
            return Slot(granted=True)  # a retry of a request that was granted
        if row is None:
            row = HandoffSlot(
                journey_id=request.journey_id,
                handoff_no=request.handoff_no,
                product=request.product,
                score=request.score,
                queued_at=utcnow(),
                asked_on=request.day,
            )
            session.add(row)
        row.score, row.asked_on = request.score, request.day
        session.flush()
        ahead = _ranked_ahead(session, row)
        if ahead < request.capacity - _granted_on(session, request.product, request.day):
            row.granted_day, row.granted_at = request.day, utcnow()
            return Slot(granted=True)
        return Slot(granted=False, position=ahead + 1)


def leave_queue(store: Store, journey_id: str, handoff_no: int, *, release: bool = False) -> None:
    """The lead no longer qualifies: its place goes to the next in line. With `release`, a
    slot it was granted but did not use (it unsubscribed meanwhile) goes back to the day."""
    with store.session() as session:
        statement = delete(HandoffSlot).where(
            HandoffSlot.journey_id == journey_id, HandoffSlot.handoff_no == handoff_no
        )
        if not release:
            statement = statement.where(HandoffSlot.granted_day.is_(None))
        session.execute(statement)


def _granted_on(session: Session, product: str, day: date) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(HandoffSlot)
            .where(HandoffSlot.product == product, HandoffSlot.granted_day == day)
        )
        or 0
    )


def _ranked_ahead(session: Session, row: HandoffSlot) -> int:
    """Queued hand-offs of the product that go before this one: higher score, then
    earlier in the queue, then (for a tie to the microsecond) the journey id."""
    queued_at: datetime = row.queued_at
    return (
        session.scalar(
            select(func.count())
            .select_from(HandoffSlot)
            .where(
                HandoffSlot.product == row.product,
                HandoffSlot.granted_day.is_(None),
                # a waiting journey asks every day; one that stopped asking (terminated, or
                # gone without leaving) must not hold the line
                HandoffSlot.asked_on >= row.asked_on - timedelta(days=1),
                or_(
                    HandoffSlot.score > row.score,
                    and_(HandoffSlot.score == row.score, HandoffSlot.queued_at < queued_at),
                    and_(
                        HandoffSlot.score == row.score,
                        HandoffSlot.queued_at == queued_at,
                        HandoffSlot.journey_id < row.journey_id,
                    ),
                ),
            )
        )
        or 0
    )


def _lock_product(session: Session, product: str) -> None:
    """Serialise the product's slot requests until the transaction ends. SQLite needs
    nothing: the store's transactions begin with its write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"handoff-capacity:{product}"},
        )
