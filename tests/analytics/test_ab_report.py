"""A/B verdicts: statsmodels' reference values, the minimum sample, Bonferroni, and the
report over a store on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportions_ztest

from nurture.analytics.ab_report import build_ab_report, judge
from nurture.analytics.engagement_report import EngagementRow
from nurture.analytics.facts import Fact, record_facts_in
from nurture.scenario.model import AbTesting
from nurture.store.engine import LeadIn, Store
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT, SCENARIOS

KEY = ("acme", "cold", "guide")


def arm(variant: str, sent: int, clicked: int, opened: int | None = None) -> EngagementRow:
    opened = clicked if opened is None else opened
    zero = {
        name: 0
        for name in (
            "delivered",
            "bounced",
            "hard_bounced",
            "machine_opened_only",
            "unsubscribed",
            "spam_reported",
        )
    }
    rates = dict.fromkeys(
        ("open_rate", "click_rate", "click_to_open", "unsubscribe_rate", "spam_rate", "bounce_rate")
    )
    return EngagementRow(
        product="acme",
        track="cold",
        step="guide",
        variant=variant,
        mail_type="step",
        sent=sent,
        opened=opened,
        clicked=clicked,
        **zero,
        **rates,
    )


def test_a_clear_winner_with_statsmodels_p_value() -> None:
    test = judge(KEY, [arm("A", 1000, 30), arm("B", 1000, 60)], AbTesting())
    assert test.verdict == "winner" and test.leader == "B"
    _, reference = proportions_ztest([60, 30], [1000, 1000])
    assert test.p_value == pytest.approx(reference)
    assert test.p_value == pytest.approx(0.001212, rel=1e-3)  # statsmodels' reference value
    assert test.difference == pytest.approx(0.03)
    assert test.ci_low is not None and test.ci_high is not None
    assert 0 < test.ci_low < 0.03 < test.ci_high


def test_not_significant_and_still_wide_is_no_difference_yet() -> None:
    test = judge(KEY, [arm("A", 500, 30), arm("B", 500, 45)], AbTesting())
    assert test.verdict == "no difference yet" and test.leader is None
    assert test.p_value == pytest.approx(0.0717, 1e-2)  # statsmodels' reference value
    assert test.ci_high is not None and test.ci_high > 0.02  # a real difference may hide


def test_a_tight_interval_around_zero_is_no_difference() -> None:
    test = judge(KEY, [arm("A", 20000, 600), arm("B", 20000, 610)], AbTesting())
    assert test.verdict == "no difference", test.why
    assert test.ci_low is not None and test.ci_low >= -0.02 and test.ci_high is not None
    assert test.ci_high <= 0.02


def test_no_verdict_below_the_minimum_sample_however_large_the_gap() -> None:
    test = judge(KEY, [arm("A", 99, 0), arm("B", 150, 80)], AbTesting(min_sample=100))
    assert test.verdict == "no difference yet" and "arm(s) A" in test.why
    assert test.p_value is None


def test_three_arms_need_the_leader_to_beat_each_other_arm_after_bonferroni() -> None:
    # B beats A clearly and C only at p ≈ 0.04: significant alone, not after correction.
    test = judge(KEY, [arm("A", 1000, 20), arm("B", 1000, 60), arm("C", 1000, 40)], AbTesting())
    _, vs_c = proportions_ztest([60, 40], [1000, 1000])
    assert 0.025 < vs_c < 0.05
    assert test.verdict == "no difference yet"
    two_arms = judge(KEY, [arm("B", 1000, 60), arm("C", 1000, 40)], AbTesting())
    assert two_arms.verdict == "winner"


def test_the_metric_may_be_opens() -> None:
    rows = [arm("A", 1000, 5, opened=200), arm("B", 1000, 5, opened=280)]
    assert judge(KEY, rows, AbTesting()).verdict == "no difference"  # clicks: 0.5% each
    by_opens = judge(KEY, rows, AbTesting(metric="open"))
    assert by_opens.verdict == "winner" and by_opens.leader == "B"


def test_the_report_judges_every_step_with_variants(any_store: Store, tmp_path: Path) -> None:
    at = datetime(2026, 11, 3, tzinfo=UTC)
    lead, _ = any_store.upsert_lead(LeadIn(email="ab@example.jp", consent=CONSENT))
    sends, facts = [], []
    for variant, clicks in ((0, 5), (1, 40)):
        for i in range(120):
            send_id = f"s{variant}-{i}"
            sends.append(
                sent_row(
                    send_id,
                    lead.id,
                    at,
                    journey_id=f"journey:acme:{i}-{variant}",
                    send_key="cold#1/guide",
                    variant=variant,
                )
            )
            if i < clicks:
                facts.append(
                    Fact(
                        fact_id=f"f-{send_id}",
                        send_id=send_id,
                        lead_id=lead.id,
                        product="acme",
                        kind="clicked",
                        human=True,
                        source="nurture",
                        occurred_at=at + timedelta(hours=1),
                    )
                )
    # A step with one variant only: no test; nor a LINE step beside its email fallback.
    sends.append(sent_row("w", lead.id, at, journey_id="journey:acme:w"))
    line = "cold#1.line/benchmark"
    sends.append(
        sent_row("l", lead.id, at, journey_id="journey:acme:l", send_key=line, channel="line")
    )
    sends.append(
        sent_row("m", lead.id, at, journey_id="journey:acme:m", send_key="cold#1/benchmark")
    )
    with any_store.session() as session:
        session.add_all(sends)
        session.flush()
        record_facts_in(session, facts)
    report = build_ab_report(any_store, SCENARIOS, product="acme")
    [test] = report.tests
    assert (test.step, test.verdict, test.leader) == ("guide", "winner", "B")
    assert [(a.variant, a.sent, a.successes) for a in test.arms] == [("A", 120, 5), ("B", 120, 40)]


def test_no_difference_needs_every_arm_close_and_full_arms_give_no_nan() -> None:
    far_worse = [arm("A", 20000, 2000), arm("B", 20000, 1990), arm("C", 20000, 400)]
    test = judge(KEY, far_worse, AbTesting())
    assert test.verdict != "no difference"  # C is far worse: not "too small to matter"
    everyone = judge(KEY, [arm("A", 200, 200), arm("B", 200, 200)], AbTesting())
    assert everyone.p_value == 1.0 and everyone.verdict == "no difference"
    assert "nan" not in everyone.why
