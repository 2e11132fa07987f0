"""Scoring rules: worked examples of the rules (fit, events, patterns, decay, stages), and
properties that must always hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Scenario
from nurture.scoring.score import (
    Discount,
    behavior_score,
    prune_events,
    score_lead,
    stage_for,
)
from tests.helpers.paths import SCENARIOS

SCENARIO: Scenario = load_scenario(SCENARIOS, "acme")
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
TYPES = [
    "page_view",
    "product_page",
    "pricing_page",
    "document_download",
    "webinar_attended",
    "email_open",
    "email_click",
    "unknown_thing",
]


def ev(type: str, days_ago: float = 0, id: str | None = None, **props: object) -> BehaviorEvent:
    at = NOW - timedelta(days=days_ago)
    return BehaviorEvent(
        event_id=id or f"{type}-{days_ago}-{props}", type=type, occurred_at=at, properties=props
    )


def points(
    events: list[BehaviorEvent], now: datetime = NOW, *, discount: Discount | None = None
) -> dict[str, int]:
    scored = behavior_score(events, now, SCENARIO.scoring, discount=discount)
    return {r.rule: r.points for r in scored}


def test_fit_score_names_each_matching_rule() -> None:
    profile = LeadProfile(industry="SaaS", company_size=120, role="executive")
    score = score_lead(profile, [], NOW, SCENARIO)
    assert score.fit == 15 and score.total == 15
    assert [r.rule for r in score.rules] == ["fit: target industry", "fit: mid-size company"]
    assert score_lead(LeadProfile(company_size=10), [], NOW, SCENARIO).fit == 0


def test_three_product_page_visits_in_two_weeks_earn_the_pattern() -> None:
    two = [ev("product_page", 10), ev("product_page", 5)]
    assert "product page 3+ times in 14 days" not in points(two)
    three = [*two, ev("product_page", 1)]
    assert points(three)["product page 3+ times in 14 days"] == 15
    spread = [ev("product_page", 30), ev("product_page", 20), ev("product_page", 1)]
    assert "product page 3+ times in 14 days" not in points(spread)


def test_daily_cap_limits_one_busy_day() -> None:
    views = [ev("page_view", 0, id=f"pv{i}") for i in range(10)]
    assert points(views)["page_view"] == 3  # 1 point each, capped at 3 a day


def test_decay_halves_points_over_the_half_life() -> None:
    assert points([ev("webinar_attended", 0)])["webinar_attended"] == 20
    assert points([ev("webinar_attended", 60)])["webinar_attended"] == 10
    assert points([ev("webinar_attended", 120)])["webinar_attended"] == 5


def test_negative_rule_can_take_the_score_below_zero() -> None:
    assert points([ev("careers_page", 0)])["careers_page"] == -10


def test_machine_opens_score_nothing() -> None:
    opens = [ev("email_open", 0, machine_open=True)]
    assert "email_open" not in points(opens)


def test_recycled_lead_keeps_only_the_configured_share() -> None:
    events = [ev("webinar_attended", 1)]
    discount = Discount(before=NOW - timedelta(hours=1), keep=0.0)
    assert "webinar_attended" not in points(events, discount=discount)
    half = Discount(before=NOW - timedelta(hours=1), keep=0.5)
    assert points(events, discount=half)["webinar_attended"] == 10


def test_stages_follow_thresholds() -> None:
    assert [stage_for(s, SCENARIO.stages) for s in (0, 24, 25, 49, 50)] == [
        "cold",
        "cold",
        "warm",
        "warm",
        "hot",
    ]


event_lists = st.lists(
    st.builds(
        ev,
        st.sampled_from([t for t in TYPES]),
        st.floats(min_value=0, max_value=400, allow_nan=False),
        st.text("abcdef", min_size=1, max_size=4),
    ),
    max_size=30,
    unique_by=lambda e: e.event_id,
)
positive_types = [t for t in TYPES if t != "careers_page"]


@settings(max_examples=200, deadline=None)
@given(event_lists)
def test_score_is_never_negative_without_a_negative_rule(events: list[BehaviorEvent]) -> None:
    assert all(e.type in positive_types for e in events)
    assert sum(points(events).values()) >= 0


@settings(max_examples=200, deadline=None)
@given(event_lists, st.floats(min_value=0, max_value=400), st.floats(min_value=0, max_value=400))
def test_decay_is_monotone(events: list[BehaviorEvent], later: float, more: float) -> None:
    first = NOW + timedelta(days=later)
    second = first + timedelta(days=more)
    assert sum(points(events, first).values()) >= sum(points(events, second).values())


@settings(max_examples=200, deadline=None)
@given(event_lists, st.data())
def test_duplicate_events_change_nothing(events: list[BehaviorEvent], data: st.DataObject) -> None:
    if not events:
        return
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10))
    assert points(events + repeats) == points(events)
    assert points(list(reversed(events)) + repeats) == points(events)


def test_pruning_drops_what_a_cap_already_spent_before_what_still_counts() -> None:
    kept_signals = [ev("webinar_attended", 1), ev("pricing_page", 2), ev("email_open", 3)]
    crawl = [ev("page_view", 0, id=f"crawl-{n}") for n in range(400)]
    noise = [ev("unknown_thing", 0.5, id=f"noise-{n}") for n in range(50)]
    everything = kept_signals + crawl + noise
    pruned = prune_events(everything, NOW, SCENARIO, keep_at_most=300)
    assert {e.type for e in pruned} == {
        "webinar_attended",
        "pricing_page",
        "email_open",
        "page_view",
    }
    assert sum(e.type == "page_view" for e in pruned) == 3  # the daily cap's worth
    assert points(pruned) == points(everything)


def test_pruning_drops_the_oldest_only_when_what_counts_is_still_too_much() -> None:
    daily = [ev("document_download", day) for day in range(10)]
    pruned = prune_events(daily, NOW, SCENARIO, keep_at_most=4)
    assert [e.occurred_at for e in pruned] == sorted(e.occurred_at for e in daily)[-4:]


@settings(max_examples=200, deadline=None)
@given(event_lists)
def test_pruning_capped_and_unscored_events_leaves_the_score_alone(
    events: list[BehaviorEvent],
) -> None:
    spam = [ev("page_view", 0.25, id=f"spam-{n}") for n in range(100)]
    spam += [ev("unknown_thing", 0.25, id=f"junk-{n}") for n in range(100)]
    pruned = prune_events(events + spam, NOW, SCENARIO, keep_at_most=len(events) + 3)
    assert points(pruned) == points(events + spam)
