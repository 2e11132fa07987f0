"""What a restarted journey reads back from the store about its closed runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.journey.carry_over import from_send_keys, read_carry_over, restarted_memory
from nurture.scenario.loader import load_scenario
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Event, Handoff, Send, StageChange, Transition
from tests.helpers.paths import CONSENT, SCENARIOS

AT = datetime(2026, 6, 1, tzinfo=UTC)
JOURNEY = "journey:acme:"


def test_send_keys_say_the_steps_had_the_track_entries_and_the_trigger_counts() -> None:
    keys = [
        ("cold#1/welcome", AT),
        ("cold#1/guide~resend", AT),  # a resend is no step of its own
        ("warm#3.line/case-study", AT + timedelta(days=1)),
        ("trigger:download#1", AT),
        ("trigger:download#2.line", AT + timedelta(days=9)),
        ("sales:handoff#1", AT),
    ]
    carried = from_send_keys(keys)
    assert carried.steps_sent == {"cold": ["welcome"], "warm": ["case-study"]}
    assert carried.track_entries == 3
    assert carried.trigger_counts == {"download": 2}
    assert carried.trigger_fired_at == {"download": AT + timedelta(days=9)}


def test_the_store_gives_the_numbering_to_go_on_with_and_the_discount(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    journey = JOURNEY + lead.id
    moves = [("nurturing", AT), ("handed_off", AT), ("sal", AT), ("lost", AT + timedelta(3))]
    with store.session() as session:
        for seq, (to, at) in enumerate(moves, 1):
            session.add(Transition(journey_id=journey, seq=seq, lead_id=lead.id, product="acme",
                                   to_lifecycle=to, stage="hot", score=60, actor="x",
                                   reason="", journey_time=at))  # fmt: skip
        session.add(Handoff(journey_id=journey, handoff_no=1, lead_id=lead.id, product="acme",
                            score=60, payload={}, journey_time=AT))  # fmt: skip
        moved = StageChange(journey_id=journey, seq=2, lead_id=lead.id, product="acme",
                            to_stage="hot", score=60, track="cold", journey_time=AT)  # fmt: skip
        session.add(moved)
        for i, (key, status, mail_type) in enumerate([
            ("cold#1/welcome", "clicked", "step"), ("cold#1/guide", "bounced", "step"),
            ("sales:handoff#1", "sent", "sales"),
        ]):  # fmt: skip
            session.add(Send(id=f"sd_{i}", journey_id=journey, send_key=key, lead_id=lead.id,
                             product="acme", mail_type=mail_type, template="t", subject="s",
                             provider="outbox", status=status, journey_time=AT))  # fmt: skip
        for i, (product, at) in enumerate([("acme", AT), (None, AT), ("beta", AT),
                                           ("acme", AT - timedelta(days=400))]):  # fmt: skip
            session.add(Event(event_id=f"e{i}", lead_id=lead.id, type="page_view",
                              product=product, properties={}, occurred_at=at))  # fmt: skip
    with store.session() as session:
        carried = read_carry_over(session, journey, lead.id, "acme", AT - timedelta(days=365))
    assert carried.lifecycle == "lost"
    assert (carried.transitions, carried.handoffs, carried.stage_moves) == (4, 1, 2)
    assert carried.emails_sent == 1  # the clicked one; a bounce and sales' notice are not
    assert [e.event_id for e in carried.events] == ["e0", "e1"]  # this product's, or none
    assert carried.handed_back_at is not None
    scenario = load_scenario(SCENARIOS, "acme")
    memory = restarted_memory(scenario, carried, "cold", AT + timedelta(days=200))
    assert memory.restarted and memory.transitions == 4 and memory.lifecycle == "lost"
    assert memory.discount is not None and memory.discount.keep == 0.0
    # the benchmark, on a new entry: a step with a send row was had, whatever became of it
    assert memory.step_index == 2 and memory.track_entries == 2
    assert memory.seen_event_ids == ["e0", "e1"]
