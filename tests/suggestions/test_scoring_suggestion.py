"""The scoring suggestion on generated leads whose true weights are known
(tests/helpers/scoring_outcomes.py): three predictive rules, one negative, four noise, three
that never fire; only the leads today's rules hand off have outcomes. Written to the store
as journeys record them, read back on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from nurture.scenario.loader import load_scenario_dir
from nurture.scenario.model import Scenario
from nurture.store.engine import Store
from nurture.store.models import Lead as LeadRow
from nurture.suggestions.dataset import load_dataset
from nurture.suggestions.model import Coefficient
from nurture.suggestions.scoring_suggestion import (
    MAX_UNJUDGED,
    suggest,
    suggest_scoring,
    suggested_scenario,
    verdict_of,
)
from tests.helpers.handoffs import Writer
from tests.helpers.paths import SCENARIOS
from tests.helpers.scoring_outcomes import (
    NOISE,
    START,
    TRUE_WEIGHTS,
    dataset_of,
    generate,
    precision_among,
    write,
)

UNTIL = START + timedelta(days=181)
NEVER_FIRED = (
    "event:product_page",
    "event:email_click",
    "pattern:product page 3+ times in 14 days",
)


@pytest.fixture(scope="module")
def acme() -> Scenario:
    return load_scenario_dir(SCENARIOS / "acme", check_templates=False)


def stored(store: Store, scenario: Scenario, count: int, seed: int = 1) -> Store:
    writer = Writer()
    write(writer, scenario, generate(scenario, count, seed=seed))
    writer.save(store)
    return store


def test_the_suggestion_recovers_the_true_weights_and_its_threshold_holds(
    any_store: Store, acme: Scenario
) -> None:
    suggestion = suggest_scoring(
        stored(any_store, acme, 3000), SCENARIOS, "acme", since=START, until=UNTIL
    )
    assert suggestion.status == "suggested", suggestion.message
    rules = {r.rule: r for r in suggestion.rules}

    # Order and sign of the true weights, per unit of each rule, and each one clear of 1.
    learnt = sorted(TRUE_WEIGHTS, key=lambda key: rules[key].odds_ratio or 0, reverse=True)
    assert learnt == sorted(TRUE_WEIGHTS, key=TRUE_WEIGHTS.__getitem__, reverse=True)
    for key, weight in TRUE_WEIGHTS.items():
        rule = rules[key]
        assert rule.verdict == "signal", key
        assert (rule.suggested_points > 0) == (weight > 0), key
        low, high = rule.odds_ratio_low or 0, rule.odds_ratio_high or 0
        assert (low > 1) if weight > 0 else (high < 1), key
    # Noise is dropped: no points, even where the scenario gives it 10 now.
    for key in NOISE:
        assert (rules[key].verdict, rules[key].suggested_points) == ("no_signal", 0), key
    assert rules["event:document_download"].current_points == 10
    # What never fired among the hand-offs cannot be judged and is left alone.
    for key in NEVER_FIRED:
        assert rules[key].verdict == "too_rare" and rules[key].fired_in == 0
        assert rules[key].suggested_points == rules[key].current_points
    # A daily cap moves with its points (it counts events, not points).
    pricing = rules["event:pricing_page"]
    assert pricing.suggested_daily_cap == round(15 * abs(pricing.suggested_points) / 15)

    # Better than the rules now, on the same held-out folds.
    assert suggestion.model and suggestion.current
    assert (suggestion.model.auc or 0) > (suggestion.current.auc or 1)
    assert suggestion.model.brier < suggestion.current.brier

    # The threshold meets the target on leads it has never seen, handed off by the new
    # points and threshold: those the current rules would have kept from sales included.
    threshold = suggestion.threshold
    assert threshold and threshold.recommended_threshold is not None
    new = suggested_scenario(acme, suggestion.rules)
    population = generate(acme, 6000, seed=2)
    precision, passed = precision_among(new, population, threshold.recommended_threshold)
    assert precision >= acme.handoff.target_precision and passed > 500
    old, _ = precision_among(acme, population, acme.handoff_threshold)
    assert old < acme.handoff.target_precision  # what the suggestion is for
    assert threshold.never_judged is not None
    assert threshold.per_week_suggested and threshold.never_judged <= MAX_UNJUDGED * (
        threshold.per_week_suggested / 7 * 181
    )
    assert threshold.change_per_week is not None and "hand-offs a week" in threshold.message

    # Rules and figures only: nothing that names a lead or a journey.
    dumped = suggestion.model_dump_json()
    assert "lead-" not in dumped and "@example.com" not in dumped and "journey:" not in dumped
    assert "unlabelled" in suggestion.guardrails["selection_bias"]


def test_the_store_gives_the_rows_the_journeys_scored_and_leaves_erased_leads_out(
    any_store: Store, acme: Scenario
) -> None:
    leads = generate(acme, 400, seed=3)
    writer = Writer()
    write(writer, acme, leads)
    late = next(lead for lead in leads if lead.handed_off(acme))
    late_id = writer.leads[leads.index(late)]["id"]  # an import of old events, after it
    writer.event(late_id, "webinar_attended", late.at - timedelta(days=1), "acme", UNTIL)
    writer.save(any_store)
    expected = dataset_of(acme, leads)
    erased_at = datetime(2026, 12, 1, tzinfo=UTC)
    with any_store.session() as session:  # an erasure keeps the row, scrubbed
        session.execute(update(LeadRow).where(LeadRow.id == "lead-0").values(erased_at=erased_at))
    loaded = load_dataset(any_store, acme, since=START, until=UNTIL)

    def rows(data: object) -> Counter[tuple[object, ...]]:
        return Counter(
            (r.outcome, r.handed_off_at, r.recorded_score, tuple(sorted(r.units.items())))
            for r in data.rows  # type: ignore[attr-defined]
        )

    first_handed_off = leads[0].handed_off(acme)
    assert loaded.erased == int(first_handed_off)
    difference = rows(expected) - rows(loaded)
    assert sum(difference.values()) == int(first_handed_off)  # the erased lead's, only
    assert not rows(loaded) - rows(expected)
    assert len(loaded.unlabelled) == len(expected.unlabelled) - int(not first_handed_off)


def test_below_the_minimum_it_refuses_and_says_how_many_are_missing(
    any_store: Store, acme: Scenario
) -> None:
    suggestion = suggest_scoring(
        stored(any_store, acme, 120), SCENARIOS, "acme", since=START, until=UNTIL
    )
    assert suggestion.status == "too_little_data" and not suggestion.rules
    assert suggestion.needed == 100 and suggestion.needed_each == 5 * 11
    assert suggestion.decided < 100 and suggestion.won < 55
    missing = 100 - suggestion.decided
    assert f"{missing} more decided hand-off(s) (has {suggestion.decided}, needs 100)" in (
        suggestion.message
    )
    assert f"{55 - suggestion.won} more won (has {suggestion.won}, needs 55)" in suggestion.message


def test_rules_that_always_fire_together_are_judged_as_one(acme: Scenario) -> None:
    twin = acme.fit[0].model_copy(update={"name": "target industry, again", "points": 4})
    scenario = acme.model_copy(update={"fit": [*acme.fit, twin]})
    data = dataset_of(scenario, generate(scenario, 1500, seed=4))
    suggestion = suggest(scenario, data, since=START, until=UNTIL)
    rules = {r.rule: r for r in suggestion.rules}
    again = rules["fit:target industry, again"]
    assert (again.verdict, again.same_as) == ("duplicate", "fit:target industry")
    assert rules["fit:target industry"].verdict == "signal"
    assert again.suggested_points == 0  # its twin carries the weight of both, once


def test_a_rule_is_suggested_only_with_a_clear_and_stable_sign() -> None:
    def coefficient(
        interval: tuple[float, float] | None, signs: tuple[int, ...], per_unit: float = 0.5
    ) -> Coefficient:
        return Coefficient(per_unit=per_unit, interval=interval, fold_signs=signs)

    steady = (1, 1, 1, 1, 1)
    assert verdict_of(coefficient((0.2, 0.8), steady), 40, 100) == "signal"
    assert verdict_of(coefficient((0.2, 0.8), (1, 1, -1, 1, 1)), 40, 100) == "unstable"
    assert verdict_of(coefficient((0.2, 0.8), (1, 0, 1, 0, 1)), 40, 100) == "signal"
    assert verdict_of(coefficient((-0.1, 0.8), steady), 40, 100) == "no_signal"
    assert verdict_of(coefficient(None, (0, 0, 0, 0, 0), per_unit=0), 40, 100) == "no_signal"
    assert verdict_of(coefficient(None, steady, per_unit=27.6), 40, 100) == "inestimable"
    assert verdict_of(None, 3, 100) == "too_rare"
    assert verdict_of(None, 100, 100) == "constant"


def test_the_same_hand_offs_give_the_same_suggestion(store: Store, acme: Scenario) -> None:
    stored(store, acme, 600)
    first = suggest_scoring(store, SCENARIOS, "acme", since=START, until=UNTIL)
    again = suggest_scoring(store, SCENARIOS, "acme", since=START, until=UNTIL)
    assert first.status == "suggested"
    assert json.loads(first.model_dump_json()) == json.loads(again.model_dump_json())
