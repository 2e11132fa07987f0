"""A/B results: for every step or trigger email with variants, which subject (or content)
wins, judged by statsmodels' tests, never by eye.

Each test compares the arms of one step on the product's metric (clicks by a person by
default, or opens; `ab:` in the scenario). Its verdict:
- *winner*: every arm has at least `min_sample` sends and the leading arm beats each other
  arm with a two-sided two-proportion z-test (`proportions_ztest`) at the scenario's
  confidence, Bonferroni-corrected for the number of comparisons;
- *no difference*: the samples are large enough and the confidence interval of the
  difference between the leading arm and every other (Newcombe's,
  `confint_proportions_2indep`) lies within ±`min_effect`: whatever differs is too small
  to matter;
- *no difference yet*: anything else — an arm short of `min_sample`, or an interval still
  too wide to tell.
The counts come from the engagement report, so both reports always agree.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from nurture.analytics.engagement_report import EngagementRow, build_engagement_report
from nurture.scenario.loader import valid_scenarios
from nurture.scenario.model import AbTesting
from nurture.store.engine import Store

Verdict = Literal["winner", "no difference", "no difference yet"]

DEFINITIONS: dict[str, str] = {
    "metric": "click: emails a person clicked in; open: emails a person opened (or clicked); "
    "of the emails sent (the engagement report's definitions)",
    "winner": "every arm has min_sample sends, and the leading arm beats each other arm "
    "with a two-sided two-proportion z-test at the confidence, Bonferroni-corrected",
    "no difference": "min_sample sends per arm, and the confidence interval of the "
    "difference between the leading arm and every other lies within ±min_effect",
    "no difference yet": "an arm has fewer than min_sample sends, or the interval is still "
    "too wide to tell",
    "difference": "the leading arm's rate minus the runner-up's, with its confidence "
    "interval (Newcombe) and the z-test's p-value for that pair",
}


class Arm(BaseModel):
    variant: str
    sent: int
    successes: int
    rate: float | None


class AbTest(BaseModel):
    product: str
    track: str
    step: str
    metric: Literal["click", "open"]
    confidence: float
    min_sample: int
    min_effect: float
    arms: list[Arm]
    leader: str | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    verdict: Verdict
    why: str


class AbReport(BaseModel):
    since: datetime | None
    until: datetime
    product: str | None
    tests: list[AbTest]
    definitions: dict[str, str] = DEFINITIONS


def build_ab_report(
    store: Store,
    scenarios_dir: Path,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AbReport:
    """Every step with two or more variants sent in the period, judged by its product's
    `ab` policy (the defaults for a product without a scenario)."""
    engagement = build_engagement_report(store, product=product, since=since, until=until)
    by_step: dict[tuple[str, str, str], list[EngagementRow]] = defaultdict(list)
    for row in engagement.rows:
        if row.channel == "email":  # A/B variants are emails' (a LINE step's fallback too)
            by_step[(row.product, row.track, row.step)].append(row)
    policies = ab_policies(scenarios_dir)
    tests = [
        judge(key, rows, policies.get(key[0], AbTesting()))
        for key, rows in sorted(by_step.items())
        if len(rows) > 1
    ]
    return AbReport(since=since, until=engagement.until, product=product, tests=tests)


def ab_policies(scenarios_dir: Path) -> dict[str, AbTesting]:
    """Each product's `ab` policy; a scenario that does not load leaves the defaults."""
    return {scenario.product: scenario.ab for scenario in valid_scenarios(scenarios_dir)}


def judge(key: tuple[str, str, str], rows: list[EngagementRow], policy: AbTesting) -> AbTest:
    """The verdict on one step's arms."""
    arms = [_arm(row, policy) for row in sorted(rows, key=lambda r: r.variant)]
    ranked = sorted(arms, key=lambda arm: arm.rate or 0.0, reverse=True)
    leader, runner_up = ranked[0], ranked[1]
    base = {
        "product": key[0],
        "track": key[1],
        "step": key[2],
        "metric": policy.metric,
        "confidence": policy.confidence,
        "min_sample": policy.min_sample,
        "min_effect": policy.min_effect,
        "arms": arms,
    }
    short = [arm.variant for arm in arms if arm.sent < policy.min_sample]
    if short:
        why = f"fewer than {policy.min_sample} sends in arm(s) {', '.join(short)}"
        return AbTest(
            **base,
            leader=None,
            difference=None,
            ci_low=None,
            ci_high=None,
            p_value=None,
            verdict="no difference yet",
            why=why,
        )
    alpha = 1 - policy.confidence
    p_values = [_p_value(leader, other) for other in ranked[1:]]
    intervals = [_interval(leader, other, alpha) for other in ranked[1:]]
    low, high = intervals[0]  # the leader against the runner-up
    widest = max(max(abs(lo), abs(hi)) for lo, hi in intervals)
    verdict, why = _verdict(p_values, alpha, low, high, widest, policy)
    return AbTest(
        **base,
        leader=leader.variant if verdict == "winner" else None,
        difference=(leader.rate or 0.0) - (runner_up.rate or 0.0),
        ci_low=float(low),
        ci_high=float(high),
        p_value=p_values[0],
        verdict=verdict,
        why=why,
    )


def _arm(row: EngagementRow, policy: AbTesting) -> Arm:
    successes = row.clicked if policy.metric == "click" else row.opened
    return Arm(
        variant=row.variant,
        sent=row.sent,
        successes=successes,
        rate=successes / row.sent if row.sent else None,
    )


def _p_value(leader: Arm, other: Arm) -> float:
    """Two-sided two-proportion z-test; 1.0 where the test has no variance to work with
    (no successes, or only successes, in both arms: no evidence of a difference)."""
    if leader.successes + other.successes in (0, leader.sent + other.sent):
        return 1.0
    _, p_value = proportions_ztest([leader.successes, other.successes], [leader.sent, other.sent])
    return 1.0 if math.isnan(p_value) else float(p_value)


def _interval(leader: Arm, other: Arm, alpha: float) -> tuple[float, float]:
    """Newcombe's interval of the difference of rates, leader minus other."""
    low, high = confint_proportions_2indep(
        leader.successes, leader.sent, other.successes, other.sent, compare="diff", alpha=alpha
    )
    return float(low), float(high)


def _verdict(
    p_values: list[float],
    alpha: float,
    low: float,
    high: float,
    widest: float,
    policy: AbTesting,
) -> tuple[Verdict, str]:
    """`low`, `high`: the interval of leader minus runner-up; `widest`: the farthest any
    interval of leader minus another arm reaches from zero."""
    corrected = alpha / len(p_values)  # Bonferroni over the leader's comparisons
    if all(p < corrected for p in p_values):
        return "winner", f"p = {max(p_values):.3g} < {corrected:.3g} against every other arm"
    if widest <= policy.min_effect:  # every arm: whatever differs is too small to matter
        return "no difference", (
            f"the difference lies in [{low:+.1%}, {high:+.1%}], and every arm's within "
            f"±{policy.min_effect:.0%}"
        )
    return "no difference yet", (
        f"p = {p_values[0]:.3g} ≥ {corrected:.3g}, and the difference may still be anywhere in "
        f"[{low:+.1%}, {high:+.1%}]"
    )
