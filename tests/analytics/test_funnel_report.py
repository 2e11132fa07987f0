"""The funnel per track and the stage flow, on generated journeys with known answers, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from nurture.analytics.facts import Fact, record_facts_in
from nurture.analytics.funnel_report import build_funnel_report
from nurture.analytics.funnel_view import to_csv
from nurture.store.engine import LeadIn, Store
from nurture.store.models import StageChange, Transition
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT, SCENARIOS

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # a Thursday


def journey(
    store: Store,
    name: str,
    *,
    sends: dict[str, int],
    stages: list[tuple[str, int, str]],
    moves: dict[str, int] | None = None,
    read: dict[str, bool] | None = None,
    status: str = "sent",
) -> None:
    """A journey of acme's: `sends` (send key → day), stage moves (to, day, track; the first
    is the stage it started in), lifecycle `moves` (to → day) and `read` (send key → a
    person read it, or only a machine)."""
    lead, _ = store.upsert_lead(LeadIn(email=f"{name}@example.jp", consent=CONSENT))
    journey_id = f"journey:acme:{lead.id}"
    with store.session() as session:
        for key, day in sends.items():
            at = T0 + timedelta(days=day)
            session.add(sent_row(f"{name}-{key}", lead.id, at, send_key=key, status=status))
        session.flush()
        for key, human in (read or {}).items():
            fact = Fact(fact_id=f"{name}-{key}-open", send_id=f"{name}-{key}", lead_id=lead.id,
                        product="acme", kind="opened", human=human, source="nurture",
                        machine_reason=None if human else "Apple Mail Privacy Protection",
                        occurred_at=T0)  # fmt: skip
            record_facts_in(session, [fact])
        before = None
        for seq, (to, day, track) in enumerate(stages, start=1):
            at = T0 + timedelta(days=day)
            session.add(StageChange(journey_id=journey_id, seq=seq, lead_id=lead.id,
                                    product="acme", from_stage=before, to_stage=to, score=0,
                                    track=track, journey_time=at))  # fmt: skip
            before = to
        for seq, (to, day) in enumerate((moves or {}).items(), start=1):
            session.add(Transition(journey_id=journey_id, seq=seq, lead_id=lead.id,
                                   product="acme", to_lifecycle=to, stage="hot", score=70,
                                   actor="journey", reason="",
                                   journey_time=T0 + timedelta(days=day)))  # fmt: skip


def generated(store: Store) -> None:
    journey(store, "j1",
            sends={"cold#1/welcome": 0, "cold#1/guide": 30, "warm#1/case-study": 31},
            stages=[("cold", 0, "cold"), ("warm", 31, "cold")],
            moves={"handed_off": 35, "sal": 36, "customer": 50},
            read={"cold#1/guide": True})  # fmt: skip
    journey(
        store,
        "j2",
        sends={"cold#1/welcome": 1},
        stages=[("cold", 1, "cold")],
        read={"cold#1/welcome": False},
    )  # fmt: skip  (Apple's proxy only: not engaged)
    journey(store, "j3",
            sends={"cold#1/welcome": 2, "cold#1/guide": 32, "cold#1/benchmark": 62},
            stages=[("warm", 0, "cold"), ("hot", 63, "cold")],
            moves={"handed_off": 64}, read={"cold#1/welcome": True})  # fmt: skip
    # Entered before the period: in no funnel, but in the stage counts from its week on.
    journey(store, "j4", sends={"cold#1/welcome": -10}, stages=[("cold", -10, "cold")])
    # Its only email was suppressed: it never entered the track.
    journey(store, "j5", sends={"cold#1/welcome": 3}, stages=[], status="suppressed")


def test_each_track_funnel_counts_the_journeys_it_took_in(any_store: Store) -> None:
    generated(any_store)
    report = build_funnel_report(
        any_store, SCENARIOS, product="acme", since=T0, until=T0 + timedelta(days=100)
    )
    cold, warm = report.tracks
    assert (cold.track, cold.entered) == ("cold", 3)
    steps = [(s.step, s.journeys, s.drop_off) for s in cold.steps]
    assert steps == [  # the scenario's order, every step shown
        ("welcome", 3, 0.0),
        ("guide", 2, 0.3333),
        ("benchmark", 1, 0.5),
        ("checklist", 0, 1.0),
        ("story", 0, None),
        ("trends", 0, None),
        ("roundup", 0, None),
    ]
    # j2's open was Apple's proxy; j3 started warm (its stage when it entered) and got hot.
    assert (cold.engaged, cold.warm, cold.hot) == (2, 2, 1)
    assert (cold.handed_off, cold.accepted, cold.won) == (2, 1, 1)
    assert (warm.track, warm.entered, [(s.step, s.journeys) for s in warm.steps]) == (
        "warm", 1, [("case-study", 1), ("demo-invite", 0)]
    )  # fmt: skip
    # j1's read was of a cold email; it was warm from the day it entered the warm track.
    assert (warm.engaged, warm.warm, warm.hot, warm.handed_off, warm.won) == (0, 1, 0, 1, 1)
    lines = to_csv(report).splitlines()
    assert lines[0] == "product,track,stage,journeys,drop_off"
    assert "acme,cold,step:guide,2,0.3333" in lines and "acme,warm,won,1," in lines


def test_outcomes_after_the_period_do_not_count(any_store: Store) -> None:
    generated(any_store)
    report = build_funnel_report(
        any_store, SCENARIOS, product="acme", since=T0, until=T0 + timedelta(days=34)
    )
    [cold, warm] = report.tracks
    assert (cold.entered, cold.warm, cold.hot, cold.handed_off) == (3, 2, 0, 0)
    assert [s.journeys for s in cold.steps[:3]] == [3, 2, 0]
    assert (warm.entered, warm.warm) == (1, 1)
    other = build_funnel_report(any_store, SCENARIOS, product="other", since=T0)
    assert other.tracks == [] and other.stage_flow == []


def test_stage_flow_week_by_week(any_store: Store) -> None:
    generated(any_store)
    report = build_funnel_report(
        any_store, SCENARIOS, product="acme", since=T0, until=T0 + timedelta(days=100)
    )
    [flow] = report.stage_flow
    weeks = {w.week: w for w in flow.weeks}
    assert min(weeks) == date(2026, 9, 28) and max(weeks) == date(2027, 1, 4)
    assert len(flow.weeks) == 15  # weeks without a move are shown too
    first = weeks[date(2026, 9, 28)]
    assert first.moves == {"entered → cold": 2, "entered → warm": 1}
    assert first.in_stage == {"cold": 3, "warm": 1, "hot": 0}  # j4 entered the week before
    assert weeks[date(2026, 10, 26)].moves == {"cold → warm": 1}  # j1 on Sunday 1 November
    assert weeks[date(2026, 10, 26)].in_stage == {"cold": 2, "warm": 2, "hot": 0}
    assert weeks[date(2026, 11, 30)].in_stage == {"cold": 2, "warm": 1, "hot": 1}
    assert weeks[date(2027, 1, 4)].moves == {}
    assert weeks[date(2027, 1, 4)].in_stage == {"cold": 2, "warm": 1, "hot": 1}
