"""Group commit of tracker events: requests share transactions, yet each is answered for its
own events, only after they are stored, and one bad request fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from nurture.api.event_writer import EventWriter, Owners, Write, Written
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent
from nurture.store.models import Event, EventDelivery, Journey
from tests.helpers.paths import CONSENT


@pytest.fixture
def db(any_store: Store) -> Store:
    return any_store


def track(message_id: str, user_id: str) -> Write:
    def events(owners: Owners) -> list[LoggedEvent]:
        event = BehaviorEvent(
            event_id=message_id, type="webinar_attended", occurred_at=datetime.now(UTC)
        )
        lead_id = owners.by_user.get(user_id)
        return [LoggedEvent(event, lead_id=lead_id, anonymous_id=None if lead_id else user_id)]

    return Write(user_ids=frozenset({user_id}), events=events)


class Counted(EventWriter):
    """Counts transactions, to show that concurrent requests share them."""

    commits = 0

    def commit(self, writes: list[Write]) -> list[Written]:
        self.commits += 1
        return super().commit(writes)


def stored(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


async def test_concurrent_requests_share_transactions_and_each_gets_its_own_answer(
    db: Store,
) -> None:
    lead, _ = db.upsert_lead(LeadIn(email="aiko@example.com", external_id="crm-1", consent=CONSENT))
    writer = Counted(db)
    writes = [track(f"m-{i}", "crm-1" if i % 2 else "visitor-9") for i in range(40)]

    answers = await asyncio.gather(*(writer.write(w) for w in writes))

    assert answers == [Written(logged=1, new=1)] * 40
    assert stored(db) == 40
    assert writer.commits <= 4  # 40 requests, not 40 transactions
    with db.session() as session:
        owners = dict(session.execute(select(Event.event_id, Event.lead_id)).all())
    assert owners["m-1"] == lead.id and owners["m-2"] is None  # userIds resolved per request


async def test_a_repeated_message_id_is_new_for_one_request_only(db: Store) -> None:
    writer = EventWriter(db)
    writes = [track("same", "visitor") for _ in range(6)]

    answers = await asyncio.gather(*(writer.write(w) for w in writes))

    assert sorted(a.new for a in answers) == [0, 0, 0, 0, 0, 1]
    assert stored(db) == 1
    assert await writer.write(track("same", "visitor")) == Written(logged=1, new=0)
    # twice in one transaction: the first request has it
    assert writer.commit([track("twice", "v"), track("twice", "v")]) == [
        Written(logged=1, new=1),
        Written(logged=1, new=0),
    ]


async def test_one_bad_request_fails_alone_and_the_rest_are_stored(db: Store) -> None:
    def broken(_: Owners) -> list[LoggedEvent]:
        raise ValueError("this request cannot be stored")

    writer = EventWriter(db)
    writes = [track(f"ok-{i}", "visitor") for i in range(10)]
    writes.insert(5, Write(user_ids=frozenset(), events=broken))

    answers = await asyncio.gather(*(writer.write(w) for w in writes), return_exceptions=True)

    assert [type(a).__name__ for a in answers].count("ValueError") == 1
    assert isinstance(answers[5], ValueError)
    assert stored(db) == 10


async def test_events_of_a_known_lead_are_queued_for_its_journeys_in_the_same_commit(
    db: Store,
) -> None:
    lead, _ = db.upsert_lead(LeadIn(email="ken@example.com", external_id="crm-2", consent=CONSENT))
    with db.session() as session:
        session.add(Journey(workflow_id=f"journey:acme:{lead.id}", lead_id=lead.id, product="acme"))

    writer = EventWriter(db)
    await asyncio.gather(*(writer.write(track(f"k-{i}", "crm-2")) for i in range(5)))

    with db.session() as session:
        queued = session.scalar(select(func.count()).select_from(EventDelivery))
    assert queued == 5
