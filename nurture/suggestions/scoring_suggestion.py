"""A scoring suggestion: new points per rule and the hand-off threshold that goes with
them, learnt from a product's decided hand-offs, with every guardrail stated.

How a coefficient becomes points: a rule's coefficient is log-odds of a win per unit of
the rule, and points are score per unit, so points = coefficient × one scale for every
rule. The scale keeps the spread of the re-weighted rules' scores over the decided
hand-offs what it is now, so the suggestion stays in the scenario's score range; the
threshold is then chosen on the hand-offs re-scored exactly as a journey with the new
points would score them, with the hand-off report's calibration
(nurture/handoff/calibration.py), counting the leads never handed off that the new points
would lift over it.

Which rules move:
- `signal`: kept by the penalty, its 95% interval clear of zero, the same sign in every
  fold: suggested points from its coefficient;
- `no_signal`: dropped by the penalty or its interval spans zero: suggested 0;
- `unstable`: its sign flips between folds: left as it is, not suggested;
- `inestimable`: kept by the penalty, but the refit cannot size it (it alone tells won from
  lost, or it moves with another rule): left as it is;
- `too_rare` / `constant`: too few decided hand-offs saw it fire, or every one did: it
  cannot be judged and is left as it is;
- `duplicate`: it fired in step with an earlier rule (correlation above 0.999): the two are
  judged as one, whose points the earlier rule carries (the duplicate gets 0 when the
  earlier one is suggested points, else both stay as they are).
"""

from __future__ import annotations

import bisect
import math
import statistics
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, select

from nurture.handoff.calibration import Calibration, ThresholdRow, calibrate
from nurture.handoff.outcomes import HandoffOutcome, Outcome
from nurture.handoff.report import period_days
from nurture.scenario.loader import (
    has_scenario,
    load_scenario_dir,
    scenario_dirs,
    scenario_version,
)
from nurture.scenario.model import Scenario
from nurture.scoring.score import RuleKind, RuleRef, rule_refs
from nurture.store.engine import Store
from nurture.store.models import Handoff, Transition, utcnow
from nurture.suggestions.dataset import Dataset, Row, load_dataset
from nurture.suggestions.model import Coefficient, Figures, Learnt, learn

MIN_DECIDED = 100
PER_RULE = 5  # won, and not won, per rule judged: penalised fits need fewer than ten
MIN_EACH = 20  # won, and not won, at the least: a model of one outcome learns nothing
MIN_FIRED = 10  # decided hand-offs a rule must have fired in to be judged
MAX_UNJUDGED = 0.05  # of a threshold's hand-offs, the share never handed off before

Verdict = Literal[
    "signal", "no_signal", "unstable", "inestimable", "too_rare", "constant", "duplicate"
]
Status = Literal["suggested", "too_little_data"]

GUARDRAILS: dict[str, str] = {
    "selection_bias": "only handed-off leads have outcomes: the model learns from decided "
    "hand-offs (won against lost, rejected or disqualified) and leaves out every lead that "
    "never reached the threshold, which is unlabelled, not lost; so it tells apart leads "
    "that scored high already, and a rule that only ever fires below the threshold cannot "
    "be judged here",
    "threshold_volume": "a threshold's hand-offs a week count the period's hand-offs that "
    "would still pass and the leads never handed off whose highest score under the new "
    f"points would; precision is judged on the first only, so no threshold is recommended "
    f"where more than {MAX_UNJUDGED:.0%} of its hand-offs were never judged",
    "stability": "a rule whose sign flips between cross-validation folds is not suggested "
    "(left as it is); a rule that fired in fewer than "
    f"{MIN_FIRED} decided hand-offs, in all of them, or exactly where another did, cannot "
    "be judged apart",
    "evidence": "each hand-off is scored on what its journey scored it on: the events that "
    "had happened and arrived by then (decay, daily caps, a recycled lead's discount), the "
    "emails sent before it; fit rules on the lead's profile as it is now; erased leads are "
    "left out",
    "stages": "warm and hot are left as they are: the suggestion moves the score's level "
    "(see the medians), so review the stages with `nurture simulate`",
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
    same_as: str | None = None
    """A `duplicate`'s earlier rule."""


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
    never_judged: int | None
    """Of the recommended threshold's hand-offs, leads never handed off in the period."""
    median_score_now: float
    median_score_suggested: float
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
    erased: int
    needed: int
    """Decided hand-offs needed; and at least `needed_each` won and as many not won."""
    needed_each: int
    rules: list[RuleSuggestion] = []
    points_per_log_odds: float | None = None
    model: ModelFigures | None = None
    current: ModelFigures | None = None
    threshold: ThresholdSuggestion | None = None
    guardrails: dict[str, str] = GUARDRAILS


def needed_each(rules: int) -> int:
    return max(MIN_EACH, PER_RULE * rules)


def suggest(
    scenario: Scenario, data: Dataset, *, since: datetime | None, until: datetime
) -> ScoringSuggestion:
    """The suggestion for `scenario` from its delivered hand-offs, or why there is none."""
    refs = rule_refs(scenario)
    decided = [r for r in data.rows if r.decided]
    won = sum(r.won for r in decided)
    each = needed_each(len(refs))
    base = {
        "product": scenario.product,
        "since": since,
        "until": until,
        "decided": len(decided),
        "won": won,
        "open": len(data.rows) - len(decided),
        "erased": data.erased,
        "needed": MIN_DECIDED,
        "needed_each": each,
    }
    short = _shortfall(len(decided), won, each)
    if short:
        return ScoringSuggestion(status="too_little_data", message=short, **base)
    keys = [ref.key for ref in refs]
    units = np.array([[r.units[k] for k in keys] for r in decided], dtype=float)
    outcome = np.array([r.won for r in decided], dtype=float)
    groups = np.array([r.group for r in decided], dtype=np.int64)
    current = np.array([r.evidence.score(scenario, r.handed_off_at) for r in decided], float)
    duplicates = _duplicates(units, keys)
    judged = [i for i in range(len(keys)) if _judgeable(units[:, i]) and keys[i] not in duplicates]
    learnt = learn([keys[i] for i in judged], units[:, judged], outcome, current, groups)
    suggestions = _rule_suggestions(scenario, refs, units, learnt, duplicates)
    scale = _points_scale(suggestions, learnt, units, keys)
    per_unit = {key: c.per_unit for key, c in learnt.coefficients.items()}
    suggestions = _reweighted(suggestions, per_unit, scale)
    held_out = _held_out_scores(scenario, decided, suggestions, learnt, scale)
    threshold = _threshold(scenario, data, suggestions, current, held_out, since=since, until=until)
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


def _shortfall(decided: int, won: int, each: int) -> str:
    lost = decided - won
    if decided >= MIN_DECIDED and won >= each and lost >= each:
        return ""
    missing = []
    if decided < MIN_DECIDED:
        missing.append(
            f"{MIN_DECIDED - decided} more decided hand-off(s) (has {decided}, needs {MIN_DECIDED})"
        )
    if won < each:
        missing.append(f"{each - won} more won (has {won}, needs {each})")
    if lost < each:
        missing.append(
            f"{each - lost} more lost, rejected or disqualified (has {lost}, needs {each})"
        )
    return (
        "too little data to suggest anything: "
        + "; ".join(missing)
        + f". At least {MIN_DECIDED} decided hand-offs, and {PER_RULE} won and {PER_RULE} not "
        "won per rule, are needed for rule points to be told from chance; mark outcomes in "
        "your CRM and come back"
    )


def _judgeable(column: np.ndarray) -> bool:
    fired = int((column > 0).sum())
    return fired >= MIN_FIRED and fired < len(column) and float(column.std()) > 0


def _duplicates(units: np.ndarray, keys: list[str]) -> dict[str, str]:
    """Rules that fired in step with an earlier rule: the data cannot tell them apart."""
    same: dict[str, str] = {}
    judgeable = [i for i in range(len(keys)) if _judgeable(units[:, i])]
    for n, i in enumerate(judgeable):
        for j in judgeable[:n]:
            if keys[j] not in same and abs(np.corrcoef(units[:, i], units[:, j])[0, 1]) > 0.999:
                same[keys[i]] = keys[j]
                break
    return same


def _rule_suggestions(
    scenario: Scenario,
    refs: list[RuleRef],
    units: np.ndarray,
    learnt: Learnt,
    duplicates: dict[str, str],
) -> list[RuleSuggestion]:
    caps = {t: r.daily_cap for t, r in scenario.scoring.events.items()}
    out = []
    for i, ref in enumerate(refs):
        column = units[:, i]
        fired = int((column > 0).sum())
        coefficient = learnt.coefficients.get(ref.key)
        verdict = (
            "duplicate" if ref.key in duplicates else verdict_of(coefficient, fired, len(column))
        )
        low = high = ratio = None
        if coefficient is not None:
            ratio = math.exp(coefficient.per_unit)
            if coefficient.interval is not None:
                low, high = (math.exp(v) for v in coefficient.interval)
        out.append(
            RuleSuggestion(
                rule=ref.key,
                kind=ref.kind,
                name=ref.name,
                current_points=ref.points,
                suggested_points=ref.points,
                verdict=verdict,
                odds_ratio=_rounded(ratio),
                odds_ratio_low=_rounded(low),
                odds_ratio_high=_rounded(high),
                fired_in=fired,
                daily_cap=caps.get(ref.name) if ref.kind == "event" else None,
                same_as=duplicates.get(ref.key),
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
    if coefficient.per_unit == 0:
        return "no_signal"
    if interval is None:
        return "inestimable"
    if interval[0] <= 0 <= interval[1]:
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
    spread = float((units[:, moving] @ beta).std())
    if spread == 0:
        return 0.0
    return float(now.std()) / spread if float(now.std()) > 0 else 10.0 / spread


def _reweighted(
    suggestions: list[RuleSuggestion], per_unit: dict[str, float], scale: float
) -> list[RuleSuggestion]:
    """The suggested points from these coefficients (log-odds per unit, by rule) by the
    verdicts: a signal's scaled, 0 for no signal, the rest left; caps moved along."""
    return _twins_carried([_with_points(s, per_unit, scale) for s in suggestions])


def _with_points(
    suggestion: RuleSuggestion, per_unit: dict[str, float], scale: float
) -> RuleSuggestion:
    if suggestion.verdict == "no_signal":
        points = 0
    elif suggestion.verdict == "signal":
        points = round(per_unit[suggestion.rule] * scale)
    else:
        return suggestion
    return _with_cap(suggestion.model_copy(update={"suggested_points": points}))


def _twins_carried(suggestions: list[RuleSuggestion]) -> list[RuleSuggestion]:
    """A duplicate's weight is in its earlier twin's coefficient: 0 points for it when the
    twin is suggested points, or it would count twice."""
    by_key = {s.rule: s for s in suggestions}
    return [
        _with_cap(s.model_copy(update={"suggested_points": 0}))
        if s.same_as is not None and by_key[s.same_as].verdict == "signal"
        else s
        for s in suggestions
    ]


def _with_cap(suggestion: RuleSuggestion) -> RuleSuggestion:
    """An event rule's daily cap moved with its points (it counts events, not points)."""
    cap, points, now = suggestion.daily_cap, suggestion.suggested_points, suggestion.current_points
    new_cap = None
    if cap is not None and points and now and points != now:
        new_cap = max(1, math.floor(cap * abs(points) / abs(now) + 0.5))
    return suggestion.model_copy(update={"suggested_daily_cap": new_cap})


def _held_out_scores(
    scenario: Scenario,
    decided: list[Row],
    suggestions: list[RuleSuggestion],
    learnt: Learnt,
    scale: float,
) -> dict[int, int]:
    """Each decided hand-off's score under points learnt without it: its fold's training
    rows alone, on the same scale and with the same verdicts. A threshold chosen on scores
    the points were fitted to would look better than it will do."""
    scores: dict[int, int] = {}
    for k in range(int(learnt.folds.max()) + 1):
        per_unit = {key: c.fold_per_unit[k] for key, c in learnt.coefficients.items()}
        fold = _reweighted(suggestions, per_unit, scale)
        scored = suggested_scenario(scenario, fold)
        for i, row in enumerate(decided):
            if learnt.folds[i] == k:
                scores[id(row)] = row.evidence.score(scored, row.handed_off_at)
    return scores


def suggested_scenario(scenario: Scenario, suggestions: list[RuleSuggestion]) -> Scenario:
    """The scenario with the suggested points and caps (the threshold apart): what the
    patch makes of the file, to score with exactly as a journey would."""
    by_key = {s.rule: s for s in suggestions}
    refs = rule_refs(scenario)
    fit = list(scenario.fit)
    patterns = list(scenario.scoring.patterns)
    events = dict(scenario.scoring.events)
    opened = scenario.scoring.every_email_opened
    for ref in refs:
        s = by_key[ref.key]
        points = {"points": s.suggested_points}
        if ref.kind == "fit":
            fit[ref.index] = fit[ref.index].model_copy(update=points)
        elif ref.kind == "pattern":
            patterns[ref.index] = patterns[ref.index].model_copy(update=points)
        elif ref.kind == "event":
            cap = s.suggested_daily_cap or events[ref.name].daily_cap
            events[ref.name] = events[ref.name].model_copy(update=points | {"daily_cap": cap})
        elif opened is not None:
            opened = opened.model_copy(update=points)
    scoring = scenario.scoring.model_copy(
        update={"events": events, "patterns": patterns, "every_email_opened": opened}
    )
    return scenario.model_copy(update={"fit": fit, "scoring": scoring})


def _threshold(
    scenario: Scenario,
    data: Dataset,
    suggestions: list[RuleSuggestion],
    current_scores: np.ndarray,
    held_out: dict[int, int],
    *,
    since: datetime | None,
    until: datetime,
) -> ThresholdSuggestion:
    """The hand-off report's calibration on the hand-offs re-scored with the suggested
    points (a decided one with the points of the fold that did not learn from it), and on
    the leads never handed off that those points would lift (as open hand-offs: volume,
    not precision)."""
    new = suggested_scenario(scenario, suggestions)
    start = since or min((r.handed_off_at for r in data.rows), default=until - timedelta(days=1))
    days = period_days(start, until)
    rescored = [
        held_out[id(r)] if id(r) in held_out else r.evidence.score(new, r.handed_off_at)
        for r in data.rows
    ]
    outcomes = [
        _outcome(scenario.product, score, r.handed_off_at, r.outcome)
        for r, score in zip(data.rows, rescored, strict=True)
        if r.evidence.eligible(new, r.handed_off_at)  # fit_at_least on the new fit points
    ]
    peaks = [p for p in (lead.peak(new) for lead in data.unlabelled) if p is not None]
    outcomes += [_outcome(scenario.product, p, until, "open") for p in peaks]
    current = scenario.handoff_threshold
    calibration = calibrate(
        outcomes,
        days=days,
        target=scenario.handoff.target_precision,
        capacity=scenario.handoff.daily_capacity,
        current_threshold=current,
    )
    decided_new = [s for r, s in zip(data.rows, rescored, strict=True) if r.decided]
    medians = {
        "median_score_now": float(statistics.median(current_scores)),
        "median_score_suggested": float(statistics.median(decided_new)),
    }
    now = round(len(data.rows) / days * 7, 1)
    pick, unjudged = _pick(calibration, peaks)
    if pick is None:
        why = (
            calibration.message
            if calibration.recommended_threshold is None
            else (
                f"every threshold meeting the target would hand over more than {MAX_UNJUDGED:.0%} "
                "leads that were never handed off, whose outcome cannot be judged"
            )
        )
        return ThresholdSuggestion(
            current_threshold=current,
            recommended_threshold=None,
            per_week_now=now,
            per_week_suggested=None,
            change_per_week=None,
            never_judged=None,
            message=f"no threshold under the suggested points: {why}",
            calibration=calibration,
            **medians,
        )
    weekly = round(pick.per_day * 7, 1)
    change = round(weekly - now, 1)
    more = f"{abs(change):.1f} {'more' if change > 0 else 'fewer'} than" if change else "as many as"
    return ThresholdSuggestion(
        current_threshold=current,
        recommended_threshold=pick.threshold,
        per_week_now=now,
        per_week_suggested=weekly,
        change_per_week=change,
        never_judged=unjudged,
        message=f"with the suggested points, hand off from score {pick.threshold} (now "
        f"{current}, on today's points): precision {pick.precision or 0:.0%} "
        f"({pick.won}/{pick.decided} decided), {weekly:.1f} hand-offs a week, {more} the "
        f"{now:.1f} of the period, {unjudged} of them never handed off before; the median "
        f"decided hand-off scores {medians['median_score_suggested']:g} (now "
        f"{medians['median_score_now']:g})",
        calibration=calibration,
        **medians,
    )


def _outcome(product: str, score: int, at: datetime, outcome: Outcome) -> HandoffOutcome:
    return HandoffOutcome("", 0, product, score, at, outcome, None, None)


def _pick(calibration: Calibration, peaks: list[int]) -> tuple[ThresholdRow | None, int]:
    """The calibration's recommendation, or the lowest threshold above it that also keeps
    the never-judged share of its hand-offs within MAX_UNJUDGED; and that count."""
    first = calibration.recommended_threshold
    if first is None:
        return None, 0
    ordered = sorted(peaks)
    for row in calibration.rows:
        if row.threshold < first or not (row.enough_data and row.meets_target):
            continue
        if not row.within_capacity:
            continue
        unjudged = len(ordered) - bisect.bisect_left(ordered, row.threshold)
        if unjudged <= MAX_UNJUDGED * row.handoffs:
            return row, unjudged
    return None, 0


def _figures(figures: Figures) -> ModelFigures:
    return ModelFigures(
        auc=None if figures.auc is None else round(figures.auc, 3),
        brier=round(figures.brier, 4),
        calibration=[(round(b.predicted, 3), round(b.observed, 3), b.rows) for b in figures.bins],
    )


class UnknownScenario(LookupError):
    """No scenario of that product under the scenarios folder."""


def _known(scenarios_dir: Path, product: str) -> None:
    if not has_scenario(scenarios_dir, product):
        known = [p.name for p in scenario_dirs(scenarios_dir)] if scenarios_dir.is_dir() else []
        raise UnknownScenario(
            f"no scenario for product {product!r} (known products: {', '.join(known) or 'none'})"
        )


def suggest_scoring(
    store: Store,
    scenarios_dir: Path,
    product: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ScoringSuggestion:
    """The suggestion for `product`'s scenario as it is on disk, from the hand-offs made in
    [since, until) (until: now). A scenario that does not load raises ScenarioError."""
    _known(scenarios_dir, product)
    scenario = load_scenario_dir(scenarios_dir / product, check_templates=False)
    end = until or utcnow()
    data = load_dataset(store, scenario, since=since, until=end)
    return suggest(scenario, data, since=since, until=end)


_cache: dict[tuple[object, ...], ScoringSuggestion] = {}
# The lifecycle moves that decide a hand-off (or start a recycled lead's next one).
OUTCOME_MOVES = ("customer", "lost", "recycled", "disqualified")


def cached_suggestion(
    store: Store,
    scenarios_dir: Path,
    product: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ScoringSuggestion:
    """`suggest_scoring`, kept while nothing it depends on moved: a fit takes seconds, and
    the API and the dashboard ask often. The key holds the scenario's version, the store's
    hand-offs and outcome moves (a count and the latest id), the period, and today's date
    when the period runs to now (its hand-offs a week, and the other leads' events, move
    with the days)."""
    _known(scenarios_dir, product)
    with store.session() as session:
        moves = session.scalar(
            select(func.max(Transition.id)).where(
                Transition.product == product, Transition.to_lifecycle.in_(OUTCOME_MOVES)
            )
        )
        handoffs = session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.product == product)
        )
    key = (
        str(store.engine.url),
        product,
        scenario_version(scenarios_dir / product),
        moves,
        handoffs,
        since,
        until or utcnow().date(),
    )
    found = _cache.get(key)
    if found is None:
        found = suggest_scoring(store, scenarios_dir, product, since=since, until=until)
        if len(_cache) >= 32:
            _cache.clear()
        _cache[key] = found
    return found
