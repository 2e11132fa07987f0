"""The journey's decisions, without a Temporal server: exit, branch, trigger, hand-off,
stage change, step entry, send hour and provider outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.journey import rules
from nurture.journey.contract import JourneyMemory
from nurture.leads.events import BehaviorEvent
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Branch, Condition, Scenario, SendTimeOptimisation
from nurture.scoring.score import Discount, ScoreBreakdown
from tests.helpers.paths import SCENARIOS

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # a Wednesday, 12:00 in Tokyo
ACME: Scenario = load_scenario(SCENARIOS, "acme")


def event(type: str, at: datetime = NOW, product: str | None = None) -> BehaviorEvent:
    return BehaviorEvent(event_id=f"{type}-{at:%s}", type=type, occurred_at=at, product=product)


def memory(**fields: object) -> JourneyMemory:
    base: dict[str, object] = {
        "started_at": NOW,
        "scenario": ACME,
        "track": "cold",
        "step_anchor": NOW,
    }
    return JourneyMemory.model_validate(base | fields)


def test_an_event_for_another_product_does_not_concern_this_journey_unless_it_ends_email() -> None:
    assert rules.concerns_another_product(event("pricing_page", product="other"), "acme")
    assert not rules.concerns_another_product(event("pricing_page", product="acme"), "acme")
    assert not rules.concerns_another_product(event("pricing_page"), "acme")
    assert not rules.concerns_another_product(event("email_bounce", product="other"), "acme")


def test_exit_rules_fire_on_their_event_only() -> None:
    assert rules.exit_reason(ACME, event("purchase"), "cold", "cold") == "exit rule: event purchase"
    assert rules.exit_reason(ACME, event("pricing_page"), "hot", "warm") is None
    assert rules.exit_reason(ACME, None, "cold", "cold") is None


def test_a_branch_moves_the_lead_on_entering_its_stage_or_on_its_event() -> None:
    assert rules.branch_to(ACME, None, "warm", "cold", "cold") == ("warm", "stage warm")
    assert rules.branch_to(ACME, None, "warm", "warm", "cold") is None  # no change of stage
    webinar = event("webinar_attended")
    by_event = rules.branch_to(ACME, webinar, "cold", "cold", "cold")
    assert by_event == ("warm", "event webinar_attended")
    # `from: [cold]`: a lead on another track stays where it is
    assert rules.branch_to(ACME, webinar, "cold", "cold", "recycle") is None
    assert rules.branch_to(ACME, webinar, "warm", "warm", "warm") is None  # already there


def test_a_trigger_waits_for_its_cooldown_and_never_reaches_a_lead_out_of_nurture() -> None:
    trigger = ACME.triggers[0]
    assert rules.trigger_allowed(memory(), trigger, NOW)
    fired = memory(trigger_fired_at={trigger.key: NOW - timedelta(days=6)})
    assert not rules.trigger_allowed(fired, trigger, NOW)
    assert rules.trigger_allowed(fired, trigger, NOW + timedelta(days=1))
    assert not rules.trigger_allowed(memory(paused=True), trigger, NOW)
    assert not rules.trigger_allowed(memory(lifecycle="handed_off"), trigger, NOW)
    assert not rules.trigger_allowed(memory(email_stopped="unsubscribed"), trigger, NOW)
    assert not rules.trigger_allowed(memory(suppressed_mail_types=["trigger"]), trigger, NOW)


def test_hand_off_needs_the_threshold_and_a_buying_signal_seen_since_recycling() -> None:
    hot = ScoreBreakdown(fit=15, behavior=45, total=60)
    pricing = event("pricing_page", NOW - timedelta(days=2))
    assert rules.handoff_reason(ACME, hot, memory()) is None  # no buying signal
    ready = memory(events=[pricing])
    assert rules.handoff_reason(ACME, hot, ready) == "score 60 ≥ 50; signals: pricing_page"
    assert rules.handoff_reason(ACME, ScoreBreakdown(total=49), ready) is None
    recycled = memory(events=[pricing], discount=Discount(before=NOW - timedelta(days=1), keep=0))
    assert rules.handoff_reason(ACME, hot, recycled) is None  # the signal predates recycling


def test_the_next_stage_change_is_found_to_the_minute() -> None:
    drop = NOW + timedelta(days=3, hours=5, minutes=17)

    def stage_at(moment: datetime) -> str:
        return "warm" if moment < drop else "cold"

    found = rules.next_stage_change(NOW, NOW + timedelta(days=30), "warm", stage_at)
    assert found is not None and drop <= found <= drop + rules.STAGE_PRECISION
    assert rules.next_stage_change(NOW, drop - timedelta(hours=1), "warm", stage_at) is None


def test_a_lead_enters_a_track_at_its_first_step_not_yet_sent() -> None:
    steps = ACME.tracks["cold"].steps
    assert rules.first_unsent_step(steps, []) == 0
    assert rules.first_unsent_step(steps, ["welcome", "benchmark"]) == 1
    assert rules.first_unsent_step(steps, [s.key for s in steps]) == len(steps)
    assert rules.current_step(ACME, memory(step_index=1)) == steps[1]
    assert rules.current_step(ACME, memory(step_index=len(steps))) is None


def test_a_step_is_due_after_its_wait_and_any_deferral_never_in_the_past() -> None:
    guide = ACME.tracks["cold"].steps[1]  # 30 days after the welcome
    assert rules.step_due(memory(), guide, NOW) == NOW + timedelta(days=30)
    late = memory(step_anchor=NOW - timedelta(days=40))
    assert rules.step_due(late, guide, NOW) == NOW
    deferred = memory(step_anchor=NOW - timedelta(days=40), deferred_until=NOW + timedelta(hours=2))
    assert rules.step_due(deferred, guide, NOW) == NOW + timedelta(hours=2)


def test_the_send_hour_is_the_leads_own_then_its_roles_then_the_default_inside_the_window() -> None:
    assert ACME.send_window is not None
    window = ACME.send_window.model_copy(
        update={"optimise_send_time": SendTimeOptimisation(min_events=3, default_hour=10)}
    )
    assert rules.send_hour(window, {14: 3}, 11) == 14
    assert rules.send_hour(window, {14: 2}, 11) == 11  # too few of its own
    assert rules.send_hour(window, {23: 5}, None) == 10  # 23:00 is outside 9-18
    assert rules.send_hour(ACME.send_window, {14: 3}, 11) is None  # not optimised


def test_a_provider_outage_backs_off_then_gives_the_step_up_after_three_days() -> None:
    waits = [rules.step_outage(NOW, attempts, NOW).retry_at for attempts in range(6)]
    assert [w - NOW for w in waits if w] == [
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=4),
        timedelta(hours=12),
        timedelta(hours=12),
        timedelta(hours=12),
    ]
    gave_up = rules.step_outage(NOW - timedelta(days=3), 9, NOW)
    assert gave_up.give_up and gave_up.retry_at is None and gave_up.lasted == timedelta(days=3)


def test_a_branch_or_an_exit_may_wait_for_a_pattern_newly_met() -> None:
    pattern = Condition(pattern="product page 3+ times in 14 days")
    scenario = ACME.model_copy(
        update={
            "branches": [Branch(when=pattern, to="warm")],
            "exit": ACME.exit.model_copy(update={"when": [pattern]}),
        }
    )
    met = {"product page 3+ times in 14 days"}
    assert rules.branch_to(scenario, None, "warm", "warm", "cold", None, met) == (
        "warm",
        "pattern 'product page 3+ times in 14 days'",
    )
    assert rules.branch_to(scenario, None, "warm", "warm", "cold", None, set()) is None
    assert rules.exit_reason(scenario, None, "warm", "warm", met) == (
        "exit rule: pattern 'product page 3+ times in 14 days'"
    )
