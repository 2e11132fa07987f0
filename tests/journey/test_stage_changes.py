"""Stage moves in the store: one row per (journey, seq), however often a journey records it."""

from __future__ import annotations

from datetime import UTC, datetime

from nurture.journey.contract import StageMove
from nurture.journey.stage_changes import record_stage_move
from nurture.store.engine import Store
from nurture.store.models import StageChange


def test_a_move_recorded_twice_is_stored_once(any_store: Store) -> None:
    move = StageMove(journey_id="journey:acme:ld_1", seq=2, lead_id="ld_1", product="acme",
                     from_stage="cold", to_stage="warm", score=32, track="cold",
                     journey_time=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
    assert record_stage_move(any_store, move) is True
    assert record_stage_move(any_store, move) is False  # a retry after a lost reply
    with any_store.session() as session:
        [row] = session.query(StageChange).all()
    assert (row.from_stage, row.to_stage, row.score, row.track) == ("cold", "warm", 32, "cold")
    assert row.journey_time == datetime(2026, 12, 1, tzinfo=UTC)
