"""Recording the journey's lifecycle moves (nurture/journey/transitions.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from nurture.journey.transitions import record_transition
from nurture.store.engine import Store
from nurture.store.models import Transition


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


def test_a_move_is_recorded_once_per_journey_and_seq(store: Store) -> None:
    def move(seq: int, reason: str) -> bool:
        return record_transition(
            store,
            journey_id="journey:acme:ld_1",
            seq=seq,
            lead_id="ld_1",
            product="acme",
            from_lifecycle="nurturing",
            to_lifecycle="mql",
            stage="hot",
            score=80,
            actor="journey",
            reason=reason,
            journey_time=datetime(2026, 11, 25, tzinfo=UTC),
        )

    assert move(1, "score 80 ≥ 70")
    assert not move(1, "a retry")
    assert move(2, "the next move")
    with store.session() as session:
        moves = session.scalars(select(Transition).order_by(Transition.seq))
        assert [(t.seq, t.reason) for t in moves] == [(1, "score 80 ≥ 70"), (2, "the next move")]
