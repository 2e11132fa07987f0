"""The population's figures and the warnings, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.scenario.loader import load_scenario
from nurture.simulation import summary
from nurture.simulation.results import LeadRun, TimelineItem
from tests.helpers.paths import SCENARIOS

ACME = load_scenario(SCENARIOS, "acme")
START = datetime(2026, 12, 7, 0, tzinfo=UTC)


def lead(persona: str, handed: int | None = None, stage: str = "cold") -> LeadRun:
    item = TimelineItem(at=START, day=0, kind="email", text="welcome")
    return LeadRun(
        persona=persona,
        lead_id=f"ld_{persona}",
        timeline=[item],
        emails=1,
        handed_off_day=handed,
        stage=stage,
        lifecycle="nurturing",
        score=0,
        ended=None,
    )


def sent(lead_id: str, key: str, day: float) -> tuple[str, str, datetime]:
    return (lead_id, key, START + timedelta(days=day))


def test_nobody_handed_off_and_daily_email_are_problems() -> None:
    daily = [sent("ld_a", f"trigger:x#{n}", n) for n in range(3)]
    found = summary.problems([lead("a"), lead("b")], daily)
    assert found == [
        "nobody was handed off to sales (personas: a, b)",
        "the a persona got email 3 days in a row: the scenario mails someone daily",
    ]
    every_other_day = [sent("ld_a", "cold#1/x", 2 * n) for n in range(5)]
    assert summary.problems([lead("a", handed=3)], every_other_day) == []


def test_unreached_steps_noisy_triggers_and_full_weeks_are_warned_of() -> None:
    sends = [sent("ld_a", "cold#1/welcome", 0), sent("ld_a", "warm#2/case-study", 3)]
    sends += [sent("ld_a", f"trigger:download-followup#{n}", 6 * n) for n in range(5)]
    leads = [lead(name, handed=7 + n) for n, name in enumerate("abcdef")]  # Dec 14-19
    noisy = ACME.model_copy(
        update={"triggers": [ACME.triggers[0].model_copy(update={"cooldown": timedelta(days=6)})]}
    )
    capped = ACME.model_copy(
        update={"handoff": ACME.handoff.model_copy(update={"daily_capacity": 0})}
    )
    figures = summary.population(leads, sends, capped, months=1, cap_deferrals=0, shifts=0)
    assert [(w.week, w.handoffs, w.capacity) for w in figures.handoffs_per_week] == [
        ("2026-W51", 6, None)
    ]
    one_a_day = ACME.model_copy(
        update={"handoff": ACME.handoff.model_copy(update={"daily_capacity": 1})}
    )
    figures = summary.population(leads, sends, one_a_day, months=1, cap_deferrals=0, shifts=0)
    found = summary.warnings(one_a_day, sends, figures)
    assert not any("can fire" in w for w in found)  # weekly: four times in four weeks at most
    noisy_found = summary.warnings(noisy, sends, figures)
    assert "no simulated lead reached step cold/guide" in found
    assert "no simulated lead reached step warm/case-study" not in found
    assert (
        "trigger 'download-followup' can fire 5 times in four weeks for one lead (cool-down 6d); "
        "more than 4 reads like spam"
    ) in noisy_found
    assert "trigger 'download-followup' fired 5 times in 30 days for one lead" in found
    assert (
        "week 2026-W51: 6 hand-offs, more than sales take in a week (5 at handoff.daily_capacity 1)"
    ) in found
    assert figures.most_emails_in_30_days == 7
    assert figures.emails_per_lead_per_month == round(7 / 6, 2)


def test_a_track_that_only_listens_with_no_way_out_is_a_dead_end() -> None:
    no_way_out = ACME.model_copy(
        update={"branches": [], "exit": ACME.exit.model_copy(update={"when": []})}
    )
    found = summary.warnings(
        no_way_out,
        [],
        summary.population([], [], no_way_out, months=1, cap_deferrals=0, shifts=0),
    )
    assert (
        "track 'cold' has no exit: after its last step a lead only listens until the "
        "journey's age limit (365 days)" in found
    )
    assert not any("track 'warm' has no exit" in w for w in found)  # warm goes on to cold
