"""Lead scoring: pure, deterministic functions shared by the workflow and the reports.

A lead's score is its fit (who it is, against the product's target) plus its
behaviour (what it did): points per event type with a daily cap,
repeated-behaviour patterns, "opens every email", all decaying with a half-life
so last quarter's interest does not make a lead hot today. Every point is
attributed to a named rule so sales can see why a lead is hot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from nurture.leads.events import EMAIL_OPEN, BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.model import FitRule, Pattern, Scenario, Scoring, Stage, Stages


class RuleScore(BaseModel):
    """Points one rule contributed, and a short reason a person can read."""

    model_config = ConfigDict(frozen=True)

    rule: str
    points: int
    detail: str = ""


class ScoreBreakdown(BaseModel):
    model_config = ConfigDict(frozen=True)

    fit: int = 0
    behavior: int = 0
    total: int = 0
    rules: list[RuleScore] = []


class Discount(BaseModel):
    """Behaviour before `before` counts only `keep` of its points (a lead recycled by sales)."""

    model_config = ConfigDict(frozen=True)

    before: datetime
    keep: float


NO_DECAY_HORIZON = timedelta(days=365)


def fit_score(profile: LeadProfile, rules: Sequence[FitRule]) -> list[RuleScore]:
    """One RuleScore per matching fit rule."""
    scores = []
    for rule in rules:
        value = profile.value_of(rule.field)
        if rule.matches(value):
            scores.append(
                RuleScore(rule=f"fit: {rule.name}", points=rule.points, detail=str(value))
            )
    return scores


def unique_events(events: Iterable[BehaviorEvent]) -> list[BehaviorEvent]:
    """Events in time order with repeats of an event id dropped (the first one wins)."""
    seen: set[str] = set()
    unique = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    return sorted(unique, key=lambda e: (e.occurred_at, e.event_id))


def scoring_events(events: Iterable[BehaviorEvent], now: datetime) -> list[BehaviorEvent]:
    """The events that may score: unique, not in the future, no machine opens."""
    return [
        e
        for e in unique_events(events)
        if e.occurred_at <= now and not (e.type == EMAIL_OPEN and e.machine_open)
    ]


def _weight(
    event: BehaviorEvent, now: datetime, scoring: Scoring, discount: Discount | None
) -> float:
    weight = 1.0
    if scoring.half_life is not None:
        age = (now - event.occurred_at).total_seconds()
        weight = math.pow(0.5, age / scoring.half_life.total_seconds())
    if discount is not None and event.occurred_at < discount.before:
        weight *= discount.keep
    return weight


DailyUse = dict[tuple[str, date], int]  # points given per (event type, UTC day)


def _capped_magnitude(event: BehaviorEvent, scoring: Scoring, used: DailyUse) -> int:
    """The points (unsigned, before decay) the event's rule gives it under the rule's daily
    cap, given what earlier events of that day used (updated here); 0 without a rule."""
    rule = scoring.events.get(event.type)
    if rule is None or rule.points == 0:
        return 0
    day_key = (event.type, event.occurred_at.date())
    magnitude = abs(rule.points)
    if rule.daily_cap is not None:
        magnitude = max(0, min(magnitude, rule.daily_cap - used[day_key]))
    used[day_key] += magnitude
    return magnitude


def _event_points(
    events: Sequence[BehaviorEvent], now: datetime, scoring: Scoring, discount: Discount | None
) -> list[RuleScore]:
    """Points per event type, capped per UTC day before decay."""
    used: DailyUse = defaultdict(int)
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for event in events:
        rule = scoring.events.get(event.type)
        magnitude = _capped_magnitude(event, scoring, used)
        if rule is None or magnitude == 0:
            continue
        sign = 1 if rule.points > 0 else -1
        totals[event.type] += sign * magnitude * _weight(event, now, scoring, discount)
        counts[event.type] += 1
    return [
        RuleScore(rule=event_type, points=_round(total), detail=f"{counts[event_type]}× event")
        for event_type, total in totals.items()
        if _round(total) != 0
    ]


def _round(value: float) -> int:
    """Round half up: a non-decreasing rounding keeps decayed scores monotone."""
    return math.floor(value + 0.5)


def _pattern_points(
    events: Sequence[BehaviorEvent], now: datetime, scoring: Scoring, discount: Discount | None
) -> list[RuleScore]:
    scores = []
    for pattern in scoring.patterns:
        matched = _in_window(events, now, pattern)
        factor = _pattern_factor(matched, pattern, discount)
        if not factor:
            continue
        points = _round(pattern.points * factor)
        if points:
            scores.append(
                RuleScore(rule=pattern.name, points=points, detail=f"{len(matched)}× in window")
            )
    return scores


def _in_window(
    events: Sequence[BehaviorEvent], now: datetime, pattern: Pattern
) -> list[BehaviorEvent]:
    """The pattern's events inside its window ending at `now`."""
    window_start = now - pattern.within
    return [e for e in events if window_start < e.occurred_at and pattern.matches(e)]


def _every_email_opened(
    events: Sequence[BehaviorEvent], scoring: Scoring, sent_ids: Sequence[str]
) -> list[RuleScore]:
    rule = scoring.every_email_opened
    if rule is None or len(sent_ids) < rule.last:
        return []
    opened = {e.properties.get("send_id") for e in events if e.type == EMAIL_OPEN}
    if all(key in opened for key in sent_ids[-rule.last :]):
        return [RuleScore(rule=rule.name, points=rule.points, detail=f"last {rule.last} opened")]
    return []


def behavior_score(
    events: Iterable[BehaviorEvent],
    now: datetime,
    scoring: Scoring,
    *,
    sent_ids: Sequence[str] = (),
    discount: Discount | None = None,
) -> list[RuleScore]:
    """Behaviour points by rule at `now`, decayed, capped, with repeats of an event id ignored."""
    usable = scoring_events(events, now)
    rules = (
        _event_points(usable, now, scoring, discount)
        + _pattern_points(usable, now, scoring, discount)
        + _every_email_opened(usable, scoring, sent_ids)
    )
    raw = sum(r.points for r in rules)
    if scoring.max_behavior is not None and raw > scoring.max_behavior:
        rules.append(
            RuleScore(
                rule="behaviour cap",
                points=scoring.max_behavior - raw,
                detail=f"capped at {scoring.max_behavior}",
            )
        )
    return rules


def score_lead(
    profile: LeadProfile,
    events: Iterable[BehaviorEvent],
    now: datetime,
    scenario: Scenario,
    *,
    sent_ids: Sequence[str] = (),
    discount: Discount | None = None,
) -> ScoreBreakdown:
    """Fit plus behaviour, with the breakdown by rule."""
    fit_rules = fit_score(profile, scenario.fit)
    behaviour_rules = behavior_score(
        events, now, scenario.scoring, sent_ids=sent_ids, discount=discount
    )
    fit = sum(r.points for r in fit_rules)
    behaviour = sum(r.points for r in behaviour_rules)
    return ScoreBreakdown(
        fit=fit, behavior=behaviour, total=fit + behaviour, rules=fit_rules + behaviour_rules
    )


def stage_for(total: int, stages: Stages) -> Stage:
    """The lead's temperature: hot (sales now), warm (interested), cold (not now)."""
    if total >= stages.hot:
        return "hot"
    if total >= stages.warm:
        return "warm"
    return "cold"


def relevant_events(
    events: Sequence[BehaviorEvent], now: datetime, scoring: Scoring, *, keep_at_most: int = 300
) -> list[BehaviorEvent]:
    """Bound the history a long journey carries, dropping only events that no longer count.

    Nothing is dropped until there are more than `keep_at_most` events; then events
    outside every pattern window whose decayed weight is below 0.1% go first (opens
    stay for "every email opened"), and only then the oldest.
    """
    unique = unique_events(events)
    if len(unique) <= keep_at_most:
        return unique
    return _within_horizon(unique, now, scoring)[-keep_at_most:]


def _within_horizon(
    events: list[BehaviorEvent], now: datetime, scoring: Scoring
) -> list[BehaviorEvent]:
    """The events that may still count after decay (opens stay for "every email opened")."""
    if scoring.half_life is None:
        return events
    horizon = event_horizon(scoring)
    return [e for e in events if e.occurred_at > now - horizon or e.type == EMAIL_OPEN]


def prune_events(
    events: Sequence[BehaviorEvent], now: datetime, scenario: Scenario, *, keep_at_most: int = 300
) -> list[BehaviorEvent]:
    """Bound the events a busy journey carries, dropping first those that can no longer
    change its score or its hand-off: past the decay horizon, of a type no rule scores, or
    over their type's daily cap, unless a pattern, a hand-off signal or "every email opened"
    needs them; only then the oldest. (`relevant_events`, its predecessor, dropped the oldest
    first: a day of page views pushed out yesterday's webinar.)"""
    unique = unique_events(events)
    if len(unique) <= keep_at_most:
        return unique
    scoring = scenario.scoring
    used: DailyUse = defaultdict(int)
    kept = []
    for event in _within_horizon(unique, now, scoring):
        # Not scored yet (kept for when it is); else its cap is counted as scoring counts it.
        if (
            event.occurred_at > now
            or _capped_magnitude(event, scoring, used)
            or _needed_beside_points(event, scenario)
        ):
            kept.append(event)
    return kept[-keep_at_most:]


def _needed_beside_points(event: BehaviorEvent, scenario: Scenario) -> bool:
    return (
        event.type == EMAIL_OPEN
        or any(pattern.matches(event) for pattern in scenario.scoring.patterns)
        or any(signal.matches(event) for signal in scenario.handoff.requires_any)
    )


def event_horizon(scoring: Scoring) -> timedelta:
    """How far back an event can still count: ten half-lives (0.5**10 < 0.1%) or the longest
    pattern window; a year when behaviour never decays."""
    if scoring.half_life is None:
        return NO_DECAY_HORIZON
    horizon = scoring.half_life * 10
    for pattern in scoring.patterns:
        horizon = max(horizon, pattern.within)
    return horizon


RuleKind = Literal["fit", "event", "pattern", "every_email_opened"]


@dataclass(frozen=True)
class RuleRef:
    """One rule of a scenario, as rules are learnt and patched: `key` is `fit:<name>`,
    `event:<type>`, `pattern:<name>` or `every_email_opened` (a second rule of a kind with
    the same name gets `#2`); `index` its place among its kind's rules in the file."""

    key: str
    kind: RuleKind
    name: str
    index: int
    points: int


def rule_refs(scenario: Scenario) -> list[RuleRef]:
    """Every rule that gives points, in the file's order."""
    scoring = scenario.scoring
    named: list[tuple[RuleKind, str, int]] = [("fit", r.name, r.points) for r in scenario.fit]
    named += [("event", t, r.points) for t, r in scoring.events.items()]
    named += [("pattern", p.name, p.points) for p in scoring.patterns]
    if scoring.every_email_opened is not None:
        named.append(
            (
                "every_email_opened",
                scoring.every_email_opened.name,
                scoring.every_email_opened.points,
            )
        )
    refs = []
    seen: dict[str, int] = defaultdict(int)
    index: dict[str, int] = defaultdict(int)
    for kind, name, points in named:
        key = kind if kind == "every_email_opened" else f"{kind}:{name}"
        seen[key] += 1
        if seen[key] > 1:
            key += f"#{seen[key]}"
        refs.append(RuleRef(key, kind, name, index[kind], points))
        index[kind] += 1
    return refs


def rule_units(
    profile: LeadProfile,
    events: Iterable[BehaviorEvent],
    now: datetime,
    scenario: Scenario,
    *,
    sent_ids: Sequence[str] = (),
    discount: Discount | None = None,
) -> dict[str, float]:
    """How many times each rule's points the lead had at `now`, by `RuleRef.key`: 1 or 0
    for a fit rule and "every email opened"; for a pattern, 1 when it fired (a recycled
    lead's discount where the journey applies it); for an event rule, its events counted
    as scoring counts them (decayed, discounted, capped per day in units of the rule's
    points; a rule of 0 points counts its events uncapped).

    So a score is Σ points × units (the behaviour part rounded per rule and capped at
    `max_behavior`), and any other points give the score those points would have given,
    provided each daily cap moves with its points (a cap counts events, not points)."""
    refs = rule_refs(scenario)
    scoring = scenario.scoring
    usable = scoring_events(events, now)
    units: dict[str, float] = {}
    event_units: dict[str, float] = defaultdict(float)
    used: DailyUse = defaultdict(int)
    for event in usable:
        rule = scoring.events.get(event.type)
        if rule is None:
            continue
        weight = _weight(event, now, scoring, discount)
        if rule.points == 0:
            event_units[event.type] += weight
        else:
            event_units[event.type] += (
                _capped_magnitude(event, scoring, used) / abs(rule.points) * weight
            )
    for ref in refs:
        if ref.kind == "fit":
            fit = scenario.fit[ref.index]
            units[ref.key] = float(fit.matches(profile.value_of(fit.field)))
        elif ref.kind == "event":
            units[ref.key] = event_units[ref.name]
        elif ref.kind == "pattern":
            pattern = scoring.patterns[ref.index]
            units[ref.key] = _pattern_factor(_in_window(usable, now, pattern), pattern, discount)
        else:
            units[ref.key] = float(bool(_every_email_opened(usable, scoring, sent_ids)))
    return units


def _pattern_factor(
    matched: Sequence[BehaviorEvent], pattern: Pattern, discount: Discount | None
) -> float:
    """Given the pattern's events in its window: 1.0 when it fires, the discount's share
    when it fires only with events from before a recycle, else 0.0 (as `_pattern_points`
    gives its points)."""
    if len(matched) < pattern.at_least:
        return 0.0
    fresh = [e for e in matched if discount is None or e.occurred_at >= discount.before]
    return 1.0 if len(fresh) >= pattern.at_least or discount is None else discount.keep
