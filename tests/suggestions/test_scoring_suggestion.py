"""The scoring suggestion on generated hand-offs whose true weights are known
(tests/helpers/scoring_outcomes.py): three predictive rules, one negative, four noise, three
that never fire. Written to the store as journeys record them, read back on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from nurture.scenario.loader import load_scenario_dir
from nurture.scenario.model import Scenario
from nurture.store.engine import Store
from nurture.suggestions.model import Coefficient
from nurture.suggestions.scoring_suggestion import (
    MIN_EACH,
    suggest_scoring,
    verdict_of,
)
from tests.helpers.handoffs import Writer
from tests.helpers.paths import SCENARIOS
from tests.helpers.scoring_outcomes import (
    NOISE,
    START,
    TRUE_WEIGHTS,
    generate,
    precision_at,
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
        stored(any_store, acme, 1200), SCENARIOS, "acme", since=START, until=UNTIL
    )
    assert suggestion.status == "suggested", suggestion.message
    rules = {r.rule: r for r in suggestion.rules}

    # Order and sign of the true weights, per unit of each rule, and each one significant.
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

    # The threshold meets the target on hand-offs it has never seen.
    threshold = suggestion.threshold
    assert threshold and threshold.recommended_threshold is not None
    held_out = generate(acme, 3000, seed=2)
    points = {r.rule: r.suggested_points for r in suggestion.rules}
    precision, passed = precision_at(acme, held_out, points, threshold.recommended_threshold)
    assert precision >= acme.handoff.target_precision and passed > 500
    assert threshold.per_week_suggested is not None and threshold.change_per_week is not None
    assert "hand-offs a week" in threshold.message

    # Rules and figures only: nothing that names a lead or a journey.
    dumped = suggestion.model_dump_json()
    assert "lead-" not in dumped and "@example.com" not in dumped and "journey:" not in dumped
    assert "unlabelled" in suggestion.guardrails["selection_bias"]


def test_below_the_minimum_it_refuses_and_says_how_many_are_missing(
    any_store: Store, acme: Scenario
) -> None:
    suggestion = suggest_scoring(
        stored(any_store, acme, 60), SCENARIOS, "acme", since=START, until=UNTIL
    )
    assert suggestion.status == "too_little_data" and not suggestion.rules
    rules = 11
    assert suggestion.needed == 10 * rules == 110
    missing = suggestion.needed - suggestion.decided
    assert f"{missing} more decided hand-off(s) (has {suggestion.decided}, needs 110)" in (
        suggestion.message
    )
    if suggestion.won < MIN_EACH:
        assert f"{MIN_EACH - suggestion.won} more won" in suggestion.message


def test_a_rule_is_suggested_only_with_a_clear_and_stable_sign() -> None:
    def coefficient(interval: tuple[float, float] | None, signs: tuple[int, ...]) -> Coefficient:
        return Coefficient(per_unit=0.5, interval=interval, fold_signs=signs)

    steady = (1, 1, 1, 1, 1)
    assert verdict_of(coefficient((0.2, 0.8), steady), 40, 100) == "signal"
    assert verdict_of(coefficient((0.2, 0.8), (1, 1, -1, 1, 1)), 40, 100) == "unstable"
    assert verdict_of(coefficient((0.2, 0.8), (1, 0, 1, 0, 1)), 40, 100) == "signal"
    assert verdict_of(coefficient((-0.1, 0.8), steady), 40, 100) == "no_signal"
    assert verdict_of(coefficient(None, (0, 0, 0, 0, 0)), 40, 100) == "no_signal"
    assert verdict_of(None, 3, 100) == "too_rare"
    assert verdict_of(None, 100, 100) == "constant"


def test_the_same_hand_offs_give_the_same_suggestion(store: Store, acme: Scenario) -> None:
    stored(store, acme, 400)
    first = suggest_scoring(store, SCENARIOS, "acme", since=START, until=UNTIL)
    again = suggest_scoring(store, SCENARIOS, "acme", since=START, until=UNTIL)
    assert json.loads(first.model_dump_json()) == json.loads(again.model_dump_json())
