"""The store's find-or-insert helper and its one lead lock, on real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nurture.store.engine import LeadIn, LeadNotFound, Store, find_or_insert, lock_lead
from nurture.store.models import Transition

T0 = datetime(2026, 11, 25, tzinfo=UTC)
JOURNEY = "journey:acme:ld_1"


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


def transition(seq: int = 1, reason: str = "journey started") -> Transition:
    return Transition(
        journey_id=JOURNEY,
        seq=seq,
        lead_id="ld_1",
        product="acme",
        from_lifecycle=None,
        to_lifecycle="nurturing",
        stage="cold",
        score=0,
        actor="journey",
        reason=reason,
        journey_time=T0,
    )


def find(session: Session, seq: int = 1) -> Transition | None:
    return session.scalars(
        select(Transition).where(Transition.journey_id == JOURNEY, Transition.seq == seq)
    ).first()


def insert(session: Session, row: Transition) -> Transition:
    session.add(row)
    return row


def rows(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Transition)) or 0


def test_inserts_once_then_finds(store: Store) -> None:
    first, inserted = find_or_insert(store, find, lambda s: insert(s, transition()))
    again, inserted_again = find_or_insert(
        store, find, lambda s: insert(s, transition(reason="a retry"))
    )
    assert inserted and not inserted_again
    assert first.id == again.id and again.reason == "journey started"
    assert rows(store) == 1


def test_the_loser_of_a_race_gets_the_winners_row(store: Store) -> None:
    """The winner's row appears after the loser looked: the loser's insert fails on the
    unique key, and the helper finds the winner's row in a fresh transaction."""
    winner, _ = find_or_insert(store, find, lambda s: insert(s, transition(reason="winner")))
    looks = []

    def late_find(session: Session) -> Transition | None:
        looks.append(1)
        return None if len(looks) == 1 else find(session)  # the first look came too early

    row, inserted = find_or_insert(store, late_find, lambda s: insert(s, transition()))
    assert not inserted and row.id == winner.id and row.reason == "winner"
    assert len(looks) == 2 and rows(store) == 1


def test_a_conflict_that_is_no_race_is_raised(store: Store) -> None:
    """A find that can never see the conflicting row: every try fails, the last one raises."""
    find_or_insert(store, find, lambda s: insert(s, transition()))
    tries = []

    def blind(session: Session) -> Transition | None:
        tries.append(1)
        return None

    with pytest.raises(IntegrityError):
        find_or_insert(store, blind, lambda s: insert(s, transition()), tries=3)
    assert len(tries) == 3 and rows(store) == 1


def test_concurrent_inserts_make_one_row(store: Store) -> None:
    def record(i: int) -> int:
        row, _ = find_or_insert(store, find, lambda s: insert(s, transition(reason=f"r{i}")))
        return row.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(record, range(16)))
    assert len(ids) == 1 and rows(store) == 1


def test_lock_lead_holds_other_writers_of_the_lead_until_commit(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="lock@example.com"))
    locked, released = threading.Event(), []

    def hold() -> None:
        with store.session() as session:
            lock_lead(session, lead.id)
            locked.set()
            time.sleep(0.5)
            released.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    with store.session() as session:
        assert lock_lead(session, lead.id).id == lead.id
        acquired = time.monotonic()
    holder.join()
    assert acquired >= released[0]


def test_lock_lead_of_an_unknown_lead_says_so(store: Store) -> None:
    with store.session() as session, pytest.raises(LeadNotFound, match="no lead 'ld_none'"):
        lock_lead(session, "ld_none")
    assert issubclass(LeadNotFound, LookupError)  # what erasure's callers catch
