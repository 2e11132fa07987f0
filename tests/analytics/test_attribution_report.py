"""What led to sales, on generated journeys with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.analytics.attribution_report import build_attribution_report
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Transition
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def journey(store: Store, name: str, source: str, sends: dict[str, int],
            moves: dict[str, int]) -> None:  # fmt: skip
    """A lead from `source` whose journey sent `sends` (key → day) and moved `moves`
    (lifecycle → day)."""
    lead, _ = store.upsert_lead(LeadIn(email=f"{name}@example.jp", source=source, consent=CONSENT))
    journey_id = f"journey:acme:{lead.id}"
    with store.session() as session:
        for key, day in sends.items():
            at = T0 + timedelta(days=day)
            session.add(sent_row(f"{name}-{key}", lead.id, at, send_key=key, template="t"))
        for seq, (to, day) in enumerate(moves.items(), start=1):
            at = T0 + timedelta(days=day)
            session.add(Transition(journey_id=journey_id, seq=seq, lead_id=lead.id,
                                   product="acme", to_lifecycle=to, stage="hot", score=70,
                                   actor="journey", reason="", journey_time=at))  # fmt: skip


def test_hand_offs_and_wins_are_credited_to_the_emails_before_them(any_store: Store) -> None:
    journey(any_store, "j1", "webinar",
            {"cold#1/welcome": 0, "cold#1/guide": 10, "trigger:download-followup#1": 11,
             "trigger:download-followup#2": 12},
            {"handed_off": 13, "customer": 40})  # fmt: skip
    journey(any_store, "j2", "ads", {"cold#1/welcome": 0}, {"handed_off": 45})  # no touch
    journey(any_store, "j3", "webinar", {"cold#1/welcome": 1, "cold#1/guide": 5},
            {"handed_off": 6})  # fmt: skip
    report = build_attribution_report(
        any_store, product="acme", since=T0, until=T0 + timedelta(days=60), window_days=30
    )
    credit = {(c.track, c.step): c for c in report.steps}
    assert list(credit) == [
        ("cold", "guide"),
        ("cold", "welcome"),
        ("trigger", "download-followup"),
    ]
    welcome, guide = credit["cold", "welcome"], credit["cold", "guide"]
    trigger = credit["trigger", "download-followup"]
    assert (welcome.handoffs_any_touch, welcome.handoffs_last_touch) == (2, 0)
    assert (guide.handoffs_any_touch, guide.handoffs_last_touch) == (2, 1)
    assert (trigger.handoffs_any_touch, trigger.handoffs_last_touch) == (1, 1)
    # The win on day 40: only the trigger of day 12 is within its 30 days (the guide of day 10
    # is exactly 30 days before: outside).
    assert (trigger.wins_any_touch, trigger.wins_last_touch) == (1, 1)
    assert guide.wins_any_touch == welcome.wins_any_touch == 0
    sources = {(s.source, s.handoffs, s.wins) for s in report.by_source}
    assert sources == {("webinar", 2, 1), ("ads", 1, 0)}

    narrow = build_attribution_report(any_store, product="acme", until=T0 + timedelta(days=6))
    assert narrow.steps == [] and narrow.by_source == []  # the first hand-off is on day 6
