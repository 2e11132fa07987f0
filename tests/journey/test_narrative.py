"""What a journey says about itself: the timeline, timer summaries and the UI card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.journey import narrative
from nurture.journey.contract import JourneyMemory, TimelineEntry
from nurture.leads.events import BehaviorEvent
from nurture.scenario.loader import load_scenario
from nurture.scoring.score import ScoreBreakdown
from tests.helpers.paths import SCENARIOS

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
ACME = load_scenario(SCENARIOS, "acme")
GUIDE = ACME.tracks["cold"].steps[1]


def memory(**fields: object) -> JourneyMemory:
    base: dict[str, object] = {
        "started_at": NOW,
        "scenario": ACME,
        "track": "cold",
        "step_anchor": NOW,
        "step_index": 1,
    }
    return JourneyMemory.model_validate(base | fields)


def test_an_event_is_told_without_its_query_string_or_fragment() -> None:
    url = "https://acme.example/pricing?email=aiko@example.com#plans"
    event = BehaviorEvent(event_id="e", type="pricing_page", occurred_at=NOW, url=url)
    assert narrative.describe(event) == "pricing_page https://acme.example/pricing"
    bare = BehaviorEvent(event_id="f", type="webinar_attended", occurred_at=NOW)
    assert narrative.describe(bare) == "webinar_attended"


def test_a_step_wait_says_why_it_waits_longer_than_its_wait() -> None:
    due = NOW + timedelta(days=30)
    assert narrative.step_wait(memory(), GUIDE, 7, due) == "wait 30d → step 2/7 'guide'"
    window = narrative.step_wait(memory(), GUIDE, 7, due + timedelta(hours=20))
    assert window.endswith("(send window opens Fri 23:00 UTC)")
    capped = memory(deferred_until=due + timedelta(days=2))
    assert "deferred by the weekly frequency cap" in narrative.step_wait(
        capped, GUIDE, 7, due + timedelta(days=2)
    )
    outage = memory(deferred_until=due, deferred_why="email provider unavailable (503)")
    assert narrative.step_wait(outage, GUIDE, 7, due).endswith(
        "(deferred to 2027-01-01 03:00 UTC: email provider unavailable (503))"
    )


def test_sales_mail_says_what_it_does_and_what_it_did() -> None:
    assert narrative.sales_mail("handoff", 2, 0) == (
        "email hand-off #2 to the owner",
        "emailed hand-off #2 to the owner",
    )
    what, done = narrative.sales_mail("escalate", 1, 4)
    assert what == "escalate hand-off #1: no sales feedback for 4 business days (SLA)"
    assert done.startswith("escalated hand-off #1")


def test_outage_and_crm_texts_name_how_long_and_why() -> None:
    text = narrative.provider_gave_up("step 2/7 'guide' on cold", timedelta(days=3), "503")
    assert text == (
        "gave up on step 2/7 'guide' on cold: the email provider was unavailable for 3d (503)"
    )
    assert narrative.crm_refused(4, None, "HTTP 400") == (
        "the CRM webhook refused hand-off #4: HTTP 400"
    )
    assert narrative.crm_refused(4, timedelta(days=3), "timeout").startswith(
        "the CRM webhook was unreachable for 3d"
    )


def test_a_decay_wait_is_rounded_up_to_the_minute() -> None:
    at = NOW + timedelta(hours=2, seconds=5)
    assert narrative.decay(NOW, at, "warm") == "wait 2h1m → score decays out of warm"


def test_the_card_shows_where_the_lead_stands_and_what_comes_next() -> None:
    m = memory(
        stage="warm",
        paused=True,
        emails_sent=3,
        timeline=[TimelineEntry(at=NOW, kind="stage", text="cold → warm (score 30)")],
    )
    card = narrative.card(
        name="Acme Analytics",
        lead_id="ld_1",
        m=m,
        score=ScoreBreakdown(fit=15, behavior=15, total=30),
        steps=7,
        next_touch=NOW + timedelta(days=1),
        sla=None,
    )
    assert card.splitlines() == [
        "**Acme Analytics** · lead `ld_1`",
        "",
        "- stage **warm** · score **30** (fit 15 + behaviour 15)",
        "- lifecycle **nurturing** · **paused**",
        "- track **cold** · step 2/7 · 3 emails sent",
        "- next touch 2026-12-03 03:00 UTC",
        "- last: cold → warm (score 30) (2026-12-02 03:00)",
    ]
    ended = narrative.card(
        name="Acme Analytics",
        lead_id="ld_1",
        m=memory(ended_reason="exit rule: event purchase"),
        score=ScoreBreakdown(),
        steps=7,
        next_touch=None,
        sla=(NOW, "remind"),
    )
    assert "- ended: exit rule: event purchase" in ended
    assert "- sales feedback due 2026-12-02 03:00 UTC (SLA, then remind)" in ended
