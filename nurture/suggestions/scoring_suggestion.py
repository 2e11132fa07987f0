"""A scoring suggestion: new points per rule and the hand-off threshold that goes with
them, learnt from a product's decided hand-offs, with every guardrail stated.

How a coefficient becomes points: a rule's coefficient is log-odds of a win per unit of
the rule, and points are score per unit, so points = coefficient × one scale for every
rule. The scale keeps the spread of the re-weighted rules' scores over the decided
hand-offs what it is now, so the suggestion stays in the scenario's score range and its
stages keep their meaning; the threshold is then chosen on the new scores with the hand-off
report's calibration (nurture/handoff/calibration.py).

Which rules move:
- `signal`: kept by the penalty, its 95% interval clear of zero, the same sign in every
  fold: suggested points from its coefficient;
- `no_signal`: dropped by the penalty or its interval spans zero: suggested 0;
- `unstable`: its sign flips between folds: left as it is, not suggested;
- `too_rare` / `constant`: too few decided hand-offs saw it fire, or every one did: it
  cannot be judged and is left as it is.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from nurture.handoff.calibration import Calibration, calibrate
from nurture.handoff.outcomes import HandoffOutcome
from nurture.handoff.report import period_days
from nurture.scenario.loader import has_scenario, load_scenario_dir, scenario_dirs
from nurture.scenario.model import Scenario
from nurture.scoring.score import rule_key
from nurture.store.engine import Store
from nurture.store.models import utcnow
from nurture.suggestions.dataset import Row, load_rows
from nurture.suggestions.model import Coefficient, Figures, Learnt, learn

MIN_DECIDED = 100  # and PER_RULE per rule judged: the usual ten events per variable
PER_RULE = 10
MIN_EACH = 20  # won, and not won: a model of one outcome learns nothing
MIN_FIRED = 10  # decided hand-offs a rule must have fired in to be judged

RuleKind = Literal["fit", "event", "pattern", "every_email_opened"]
Verdict = Literal["signal", "no_signal", "unstable", "too_rare", "constant"]
Status = Literal["suggested", "too_little_data"]

GUARDRAILS: dict[str, str] = {
    "selection_bias": "only handed-off leads have outcomes: the model learns from decided "
    "hand-offs (won against lost, rejected or disqualified) and leaves out every lead that "
    "never reached the threshold, which is unlabelled, not lost; so it tells apart leads "
    "that scored high already, and a rule that only ever fires below the threshold cannot "
    "be judged here",
    "threshold_volume": "hand-offs a week under the suggestion count the leads handed off "
    "in the period that would still pass; leads that never reached the current threshold "
    "but would pass the new one are not counted (at least this many)",
    "stability": "a rule whose sign flips between cross-validation folds is not suggested "
    "(left as it is); a rule that fired in fewer than "
    f"{MIN_FIRED} decided hand-offs, or in all of them, cannot be judged",
    "profile": "fit rules are judged on each lead's profile as it is now; behaviour on the "
    "events before its hand-off, counted as the journey scores them (decay and daily caps), "
    "without a recycled lead's discount",
    "personal_data": "the output holds rules, counts and figures only: no lead, address or "
    "journey id",
    "review": "a suggestion, not a decision: review the patch, then `nurture validate`, "
    "`nurture diff`, `nurture simulate` and `nurture rollout`",
}


class RuleSuggestion(BaseModel):
    rule: str
    kind: RuleKind
    name: str
    current_points: int
    suggested_points: int
    verdict: Verdict
    odds_ratio: float | None
    """The odds of a win multiply by this per unit of the rule (1.0: dropped)."""
    odds_ratio_low: float | None
    odds_ratio_high: float | None
    fired_in: int
    """Decided hand-offs in which the rule had any units."""
    daily_cap: int | None = None
    suggested_daily_cap: int | None = None
    """An event rule's cap moves with its points: a cap counts events, not points."""


class ModelFigures(BaseModel):
    auc: float | None
    brier: float
    calibration: list[tuple[float, float, int]]
    """(mean predicted, observed win rate, hand-offs) in five bins of the prediction."""


class ThresholdSuggestion(BaseModel):
    current_threshold: int
    recommended_threshold: int | None
    per_week_now: float
    per_week_suggested: float | None
    change_per_week: float | None
    message: str
    calibration: Calibration


class ScoringSuggestion(BaseModel):
    product: str
    since: datetime | None
    until: datetime
    status: Status
    message: str
    decided: int
    won: int
    open: int
    needed: int
    rules: list[RuleSuggestion] = []
    points_per_log_odds: float | None = None
    model: ModelFigures | None = None
    current: ModelFigures | None = None
    threshold: ThresholdSuggestion | None = None
    guardrails: dict[str, str] = GUARDRAILS


def scenario_rules(scenario: Scenario) -> list[tuple[str, RuleKind, str, int]]:
    """(key, kind, name, points) of every rule a suggestion may move, in the file's order."""
    rules: list[tuple[str, RuleKind, str, int]] = [
        (rule_key("fit", r.name), "fit", r.name, r.points) for r in scenario.fit
    ]
    scoring = scenario.scoring
    rules += [(rule_key("event", t), "event", t, r.points) for t, r in scoring.events.items()]
    rules += [(rule_key("pattern", p.name), "pattern", p.name, p.points) for p in scoring.patterns]
    if scoring.every_email_opened is not None:
        opened = scoring.every_email_opened
        rules.append(
            (rule_key("every_email_opened", ""), "every_email_opened", opened.name, opened.points)
        )
    return rules


def needed_rows(rules: int) -> int:
    return max(MIN_DECIDED, PER_RULE * rules)


def score_with(points: dict[str, int], units: dict[str, float], scenario: Scenario) -> int:
    """The score `points` give a lead with these units, as the journey would compute it:
    fit exact, behaviour rounded per rule and capped at `max_behavior`."""
    fit = sum(points[key] * units[key] for key in units if key.startswith("fit:"))
    behaviour = sum(
        math.floor(points[key] * units[key] + 0.5) for key in units if not key.startswith("fit:")
    )
    cap = scenario.scoring.max_behavior
    if cap is not None:
        behaviour = min(behaviour, cap)
    return round(fit) + behaviour


def suggest(
    scenario: Scenario,
    rows: list[Row],
    *,
    since: datetime | None,
    until: datetime,
) -> ScoringSuggestion:
    """The suggestion for `scenario` from its delivered hand-offs, or why there is none."""
    rules = scenario_rules(scenario)
    decided = [r for r in rows if r.decided]
    won = sum(r.won for r in decided)
    needed = needed_rows(len(rules))
    base = {
        "product": scenario.product,
        "since": since,
        "until": until,
        "decided": len(decided),
        "won": won,
        "open": len(rows) - len(decided),
        "needed": needed,
    }
    short = _shortfall(len(decided), won, needed)
    if short:
        return ScoringSuggestion(status="too_little_data", message=short, **base)
    keys = [key for key, *_ in rules]
    units = np.array([[r.units.get(k, 0.0) for k in keys] for r in decided], dtype=float)
    outcome = np.array([r.won for r in decided], dtype=float)
    current = {key: points for key, _, _, points in rules}
    current_scores = np.array([score_with(current, r.units, scenario) for r in decided], float)
    judged = [i for i in range(len(keys)) if _judgeable(units[:, i])]
    learnt = learn([keys[i] for i in judged], units[:, judged], outcome, current_scores)
    suggestions = _rule_suggestions(scenario, rules, units, learnt)
    scale = _points_scale(suggestions, learnt, units, keys)
    suggestions = [_with_points(s, learnt, scale) for s in suggestions]
    threshold = _threshold(scenario, rows, suggestions, since=since, until=until)
    moved = sum(s.suggested_points != s.current_points for s in suggestions)
    return ScoringSuggestion(
        status="suggested",
        message=f"{moved} of {len(suggestions)} rule(s) would change; {threshold.message}",
        rules=suggestions,
        points_per_log_odds=round(scale, 3),
        model=_figures(learnt.model),
        current=_figures(learnt.current),
        threshold=threshold,
        **base,
    )


def _shortfall(decided: int, won: int, needed: int) -> str:
    lost = decided - won
    if decided >= needed and won >= MIN_EACH and lost >= MIN_EACH:
        return ""
    missing = []
    if decided < needed:
        missing.append(
            f"{needed - decided} more decided hand-off(s) (has {decided}, needs {needed})"
        )
    if won < MIN_EACH:
        missing.append(f"{MIN_EACH - won} more won (has {won}, needs {MIN_EACH})")
    if lost < MIN_EACH:
        missing.append(
            f"{MIN_EACH - lost} more lost, rejected or disqualified (has {lost}, needs {MIN_EACH})"
        )
    return (
        "too little data to suggest anything: "
        + "; ".join(missing)
        + f". At least {MIN_DECIDED} decided hand-offs, {PER_RULE} per rule, are needed for "
        "rule points to be told from chance; mark outcomes in your CRM and come back"
    )


def _judgeable(column: np.ndarray) -> bool:
    fired = int((column > 0).sum())
    return fired >= MIN_FIRED and fired < len(column) and float(column.std()) > 0


def _rule_suggestions(
    scenario: Scenario,
    rules: list[tuple[str, RuleKind, str, int]],
    units: np.ndarray,
    learnt: Learnt,
) -> list[RuleSuggestion]:
    caps = {t: r.daily_cap for t, r in scenario.scoring.events.items()}
    out = []
    for i, (key, kind, name, points) in enumerate(rules):
        column = units[:, i]
        fired = int((column > 0).sum())
        coefficient = learnt.coefficients.get(key)
        verdict = verdict_of(coefficient, fired, len(column))
        low = high = ratio = None
        if coefficient is not None:
            ratio = math.exp(coefficient.per_unit)
            if coefficient.interval is not None:
                low, high = (math.exp(v) for v in coefficient.interval)
        out.append(
            RuleSuggestion(
                rule=key,
                kind=kind,
                name=name,
                current_points=points,
                suggested_points=points,
                verdict=verdict,
                odds_ratio=_rounded(ratio),
                odds_ratio_low=_rounded(low),
                odds_ratio_high=_rounded(high),
                fired_in=fired,
                daily_cap=caps.get(name) if kind == "event" else None,
            )
        )
    return out


def verdict_of(coefficient: Coefficient | None, fired: int, rows: int) -> Verdict:
    """What the data says of one rule (the module's docstring lists the verdicts)."""
    if coefficient is None:
        return "constant" if fired == rows else "too_rare"
    if coefficient.flips:
        return "unstable"
    interval = coefficient.interval
    if interval is None or interval[0] <= 0 <= interval[1]:
        return "no_signal"
    return "signal"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _points_scale(
    suggestions: list[RuleSuggestion], learnt: Learnt, units: np.ndarray, keys: list[str]
) -> float:
    """Points per unit of log-odds: the re-weighted rules keep the spread of score they
    give the decided hand-offs now (the standard deviation of their part of the score)."""
    moving = [i for i, s in enumerate(suggestions) if s.verdict == "signal"]
    if not moving:
        return 0.0
    now = units[:, moving] @ np.array([suggestions[i].current_points for i in moving], float)
    beta = np.array([learnt.coefficients[keys[i]].per_unit for i in moving])
    learnt_part = units[:, moving] @ beta
    spread = float(learnt_part.std())
    if spread == 0:
        return 0.0
    return float(now.std()) / spread if float(now.std()) > 0 else 10.0 / spread


def _with_points(suggestion: RuleSuggestion, learnt: Learnt, scale: float) -> RuleSuggestion:
    if suggestion.verdict == "no_signal":
        points = 0
    elif suggestion.verdict == "signal":
        points = round(learnt.coefficients[suggestion.rule].per_unit * scale)
    else:
        return suggestion
    cap = suggestion.daily_cap
    new_cap = None
    if cap is not None and points and suggestion.current_points:
        new_cap = max(1, round(cap * abs(points) / abs(suggestion.current_points)))
    return suggestion.model_copy(
        update={"suggested_points": points, "suggested_daily_cap": new_cap}
    )


def _threshold(
    scenario: Scenario,
    rows: list[Row],
    suggestions: list[RuleSuggestion],
    *,
    since: datetime | None,
    until: datetime,
) -> ThresholdSuggestion:
    """The calibration of the hand-off report, on the delivered hand-offs re-scored with the
    suggested points."""
    points = {s.rule: s.suggested_points for s in suggestions}
    start = since or min((r.handed_off_at for r in rows), default=until - timedelta(days=1))
    days = period_days(start, until)
    outcomes = [
        HandoffOutcome(
            journey_id="",
            handoff_no=0,
            product=scenario.product,
            score=score_with(points, r.units, scenario),
            handed_off_at=r.handed_off_at,
            outcome=r.outcome,
            accepted=None,
            first_touch=None,
        )
        for r in rows
    ]
    current = scenario.handoff_threshold
    calibration = calibrate(
        outcomes,
        days=days,
        target=scenario.handoff.target_precision,
        capacity=scenario.handoff.daily_capacity,
        current_threshold=current,
    )
    now = round(len(rows) / days * 7, 1)
    pick = calibration.recommended_threshold
    if pick is None:
        return ThresholdSuggestion(
            current_threshold=current,
            recommended_threshold=None,
            per_week_now=now,
            per_week_suggested=None,
            change_per_week=None,
            message=f"no threshold under the suggested points: {calibration.message}",
            calibration=calibration,
        )
    row = next(r for r in calibration.rows if r.threshold == pick)
    weekly = round(row.per_day * 7, 1)
    change = round(weekly - now, 1)
    more = f"{abs(change):.1f} {'more' if change > 0 else 'fewer'} than" if change else "as many as"
    return ThresholdSuggestion(
        current_threshold=current,
        recommended_threshold=pick,
        per_week_now=now,
        per_week_suggested=weekly,
        change_per_week=change,
        message=f"with the suggested points, {calibration.message}; {weekly:.1f} hand-offs a "
        f"week, {more} the {now:.1f} of the period (at least: see the selection bias)",
        calibration=calibration,
    )


def _figures(figures: Figures) -> ModelFigures:
    return ModelFigures(
        auc=None if figures.auc is None else round(figures.auc, 3),
        brier=round(figures.brier, 4),
        calibration=[(round(b.predicted, 3), round(b.observed, 3), b.rows) for b in figures.bins],
    )


class UnknownScenario(LookupError):
    """No scenario of that product under the scenarios folder."""


def suggest_scoring(
    store: Store,
    scenarios_dir: Path,
    product: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ScoringSuggestion:
    """The suggestion for `product`'s scenario as it is on disk, from the hand-offs made in
    [since, until) (until: now)."""
    if not has_scenario(scenarios_dir, product):
        known = [p.name for p in scenario_dirs(scenarios_dir)] if scenarios_dir.is_dir() else []
        raise UnknownScenario(
            f"no scenario for product {product!r} (known products: {', '.join(known) or 'none'})"
        )
    scenario = load_scenario_dir(scenarios_dir / product, check_templates=False)
    end = until or utcnow()
    rows = load_rows(store, scenario, since=since, until=end)
    return suggest(scenario, rows, since=since, until=end)
