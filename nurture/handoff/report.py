"""The hand-off report: is marketing handing sales leads worth following up?

A salesperson who gets leads of which fewer than ~30% turn into deals stops
following them up, and a small sales team wants fewer, better leads. So per product this
reports how many hand-offs sales received, how many it accepted, how many it won
(precision), how fast it first touched them, and which hand-off threshold would have met
the scenario's `handoff.target_precision` within its `handoff.daily_capacity`.

Pure over the store: it reads `handoffs` and `transitions` and writes nothing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select

from nurture.handoff.calibration import MIN_DECIDED, Calibration, calibrate
from nurture.handoff.outcomes import HandoffOutcome, load_outcomes
from nurture.scenario.loader import ScenarioError, load_scenario_dir, scenario_dirs
from nurture.store.engine import Store
from nurture.store.models import Handoff, utcnow

DEFAULT_TARGET_PRECISION = 0.30

# Shown with every report (table footnotes, `definitions` in --json) and in
# docs/handoff-report.md.
DEFINITIONS: dict[str, str] = {
    "handoffs": "hand-offs made in the period that reached sales (lifecycle handed_off); "
    "'withdrawn' ones (the lead unsubscribed, bounced or was disqualified while it was "
    "recorded) are counted apart",
    "accepted": "reached sal or beyond (sql, opportunity, customer, lost), even if sales "
    "rejected it later; not accepted = rejected or disqualified straight from handed_off",
    "acceptance_rate": "accepted / hand-offs sales has answered; the unanswered ones are "
    "'awaiting answer'",
    "decided": "won (customer) + lost + rejected (recycled by sales) + disqualified",
    "precision": "won / decided hand-offs: the share of hand-offs that became deals, the "
    "win rate (受注確率) sales judges marketing's leads by; open hand-offs are left out "
    "(they may still be won) and shown apart; 'won of all' (won / every hand-off) is the "
    "floor if none of them is won",
    "first_touch": "time from handed_off to the first lifecycle move made by sales (any actor "
    "other than the journey, the email provider or the lead); median over touched hand-offs",
    "calibration": "for each distinct hand-off score t, the hand-offs with score ≥ t: their "
    "precision and volume per calendar day of the period; recommended = the lowest t meeting "
    f"the target precision within the daily capacity, judged on ≥ {MIN_DECIDED} decided "
    "hand-offs",
    "selection_bias": "only leads that were handed off have outcomes: thresholds below the "
    "lowest hand-off score cannot be judged, and a lead handed off at one score might have "
    "reached a higher threshold later; the table replays these hand-offs as they were made",
}


class UnknownProduct(LookupError):
    """A product with neither a scenario nor hand-offs in the store."""


class Policy(BaseModel):
    """What the product's scenario asks of its hand-offs."""

    target_precision: float = DEFAULT_TARGET_PRECISION
    daily_capacity: int | None = None
    current_threshold: int | None = None
    source: str = "defaults (no scenario for this product)"


class ProductReport(BaseModel):
    product: str
    policy: Policy
    period_start: datetime | None
    period_end: datetime
    days: int
    handoffs: int
    withdrawn: int
    accepted: int
    not_accepted: int
    awaiting_answer: int
    acceptance_rate: float | None
    won: int
    lost: int
    rejected: int
    disqualified: int
    decided: int
    open: int
    precision: float | None
    won_of_all: float | None
    meets_target: bool | None
    touched: int
    first_touch_median_hours: float | None
    calibration: Calibration


class HandoffReport(BaseModel):
    since: datetime | None
    until: datetime
    products: list[ProductReport]
    definitions: dict[str, str] = DEFINITIONS


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def period_days(start: datetime | None, end: datetime) -> int:
    """Calendar days the period spans (at least one): the divisor of hand-offs per day."""
    if start is None or end <= start:
        return 1
    return max(1, math.ceil((end - start) / timedelta(days=1)))


def product_report(
    product: str,
    outcomes: Sequence[HandoffOutcome],
    policy: Policy,
    *,
    since: datetime | None,
    until: datetime,
    min_decided: int = MIN_DECIDED,
) -> ProductReport:
    """The figures for one product's hand-offs made in [since, until)."""
    delivered = [o for o in outcomes if o.delivered]
    first = min((o.handed_off_at for o in delivered), default=None)
    start = since or (first and first.replace(hour=0, minute=0, second=0, microsecond=0))
    days = period_days(start, until)
    count = {
        name: sum(o.outcome == name for o in delivered)
        for name in ("won", "lost", "rejected", "disqualified", "open")
    }
    accepted = sum(o.accepted is True for o in delivered)
    not_accepted = sum(o.accepted is False for o in delivered)
    decided = sum(o.decided for o in delivered)
    precision = _ratio(count["won"], decided)
    touches = [o.first_touch.total_seconds() / 3600 for o in delivered if o.first_touch]
    return ProductReport(
        product=product,
        policy=policy,
        period_start=start,
        period_end=until,
        days=days,
        handoffs=len(delivered),
        withdrawn=len(outcomes) - len(delivered),
        accepted=accepted,
        not_accepted=not_accepted,
        awaiting_answer=len(delivered) - accepted - not_accepted,
        acceptance_rate=_ratio(accepted, accepted + not_accepted),
        won=count["won"],
        lost=count["lost"],
        rejected=count["rejected"],
        disqualified=count["disqualified"],
        decided=decided,
        open=count["open"],
        precision=precision,
        won_of_all=_ratio(count["won"], len(delivered)),
        meets_target=None if precision is None else precision >= policy.target_precision - 1e-9,
        touched=len(touches),
        first_touch_median_hours=round(statistics.median(touches), 3) if touches else None,
        calibration=calibrate(
            delivered,
            days=days,
            target=policy.target_precision,
            capacity=policy.daily_capacity,
            current_threshold=policy.current_threshold,
            min_decided=min_decided,
        ),
    )


def scenario_policies(scenarios_dir: Path) -> dict[str, Policy]:
    """Each scenario's hand-off targets; an unreadable scenario gets the defaults, and says so."""
    policies: dict[str, Policy] = {}
    if not scenarios_dir.is_dir():
        return policies
    for folder in scenario_dirs(scenarios_dir):
        file = folder / "scenario.yaml"
        try:
            scenario = load_scenario_dir(folder, check_templates=False)
        except ScenarioError:
            policies[folder.name] = Policy(
                source=f"defaults ({file} is invalid: run `nurture validate`)"
            )
            continue
        policies[scenario.product] = Policy(
            target_precision=scenario.handoff.target_precision,
            daily_capacity=scenario.handoff.daily_capacity,
            current_threshold=scenario.handoff_threshold,
            source=str(file),
        )
    return policies


def build_report(
    store: Store,
    scenarios_dir: Path,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_decided: int = MIN_DECIDED,
) -> HandoffReport:
    """The report for one product, or for every product with a scenario or hand-offs."""
    until = until or utcnow()
    policies = scenario_policies(scenarios_dir)
    with store.session() as session:
        in_store = set(session.scalars(select(Handoff.product).distinct()))
    known = sorted(set(policies) | in_store)
    if product is not None and product not in known:
        raise UnknownProduct(
            f"unknown product {product!r}: no scenario in {scenarios_dir} and no hand-offs in "
            f"the store; known products: {', '.join(known) or 'none'}"
        )
    outcomes = load_outcomes(store, product=product, since=since, until=until)
    reports = [
        product_report(
            name,
            [o for o in outcomes if o.product == name],
            policies.get(name, Policy()),
            since=since,
            until=until,
            min_decided=min_decided,
        )
        for name in ([product] if product else known)
    ]
    return HandoffReport(since=since, until=until, products=reports)
