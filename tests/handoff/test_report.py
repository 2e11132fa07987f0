"""The hand-off report on a generated outcome data set whose right answers are known.

The data set (product acme, 2026-01-01 → 2026-01-31, 30 days): at every score 40..100,
twelve hand-offs: ten decided, one accepted and still open, one awaiting an answer. Wins per
ten decided: one below 70, one at 70..77, none at 78..79, three at 80..89, five at 90..100.
So the hand-offs at or above 70 win exactly 93 of 310 (30%), every higher threshold does
better, and adding score 69 (one in ten) drops below 30%: with the default target the
lowest threshold meeting it is 70. Volume at threshold t is 12 × (101 − t) / 30 per day, so
a capacity of 5/day pushes the recommendation to 89, and 1/day to 99 (20 decided: the
minimum). Sales touches the eleven answered hand-offs of each score after 1..11 hours
(median 6 h). Hand-offs before the period, of another product, and withdrawn ones must not
change acme's figures.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from nurture.config import Settings
from nurture.handoff.calibration import calibrate
from nurture.handoff.outcomes import (
    SYSTEM_ACTORS,
    Move,
    classify,
    load_outcomes,
    split_by_handoff,
)
from nurture.handoff.report import Policy, UnknownProduct, build_report, product_report
from nurture.scenario.loader import ScenarioError, load_scenario_dir
from nurture.store.engine import Store
from tests.helpers.handoffs import Writer
from tests.helpers.paths import REPO
from tests.helpers.processes import run_starter
from tests.helpers.scenarios import scenario_copy

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 1, 31, tzinfo=UTC)
SCORES = range(40, 101)
HOUR = timedelta(hours=1)


def wins_at(score: int) -> int:
    """Won hand-offs out of ten decided at `score`."""
    if score < 78:
        return 1
    if score < 80:
        return 0
    return 3 if score < 90 else 5


def kinds_at(score: int) -> list[str]:
    """The twelve hand-offs at `score`: the eleven answered ones first, touched after 1..11 h."""
    won = wins_at(score)
    return (
        ["won"] * won
        + ["lost"] * (6 - won)
        + ["rejected"] * 2
        + ["disqualified", "rejected_after_sal", "open_sal", "awaiting"]
    )


def write_data_set(store: Store) -> None:
    writer = Writer()
    day = count()
    for score in SCORES:
        for delay, kind in enumerate(kinds_at(score), start=1):
            at = SINCE + timedelta(days=next(day) % 30, hours=9)
            writer.hand_off(writer.journey("acme"), score, at, kind, touch_after=delay * HOUR)
    for _ in range(20):  # all won at 40, but before the period
        writer.hand_off(writer.journey("acme"), 40, SINCE - timedelta(days=5), "won")
    for _ in range(3):  # the leads unsubscribed while the hand-off was recorded
        writer.hand_off(writer.journey("acme"), 45, SINCE + timedelta(days=3), "withdrawn")
    for _ in range(30):  # another product, all won at 40
        writer.hand_off(writer.journey("other"), 40, SINCE + timedelta(days=2), "won")
    writer.save(store)


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


@pytest.fixture
def data_set(store: Store) -> Store:
    write_data_set(store)
    return store


def acme_scenarios(settings: Settings, tmp_path: Path, handoff_extra: str = "") -> Path:
    """The acme test scenario (threshold: hot = 50) with extra `handoff:` keys."""
    scenario_copy(
        settings,
        tmp_path,
        old="handoff:\n",
        new=f"handoff:\n{handoff_extra}" if handoff_extra else "handoff:\n",
    )
    return settings.scenarios_dir


def expected_won(threshold: int) -> int:
    return sum(wins_at(s) for s in SCORES if s >= threshold)


def test_figures_and_calibration_match_the_known_answer(
    data_set: Store, settings: Settings, tmp_path: Path
) -> None:
    report = build_report(
        data_set, acme_scenarios(settings, tmp_path), product="acme", since=SINCE, until=UNTIL
    )
    [acme] = report.products
    n = len(SCORES)  # 61
    assert (acme.days, acme.handoffs, acme.withdrawn) == (30, 12 * n, 3)
    assert (acme.accepted, acme.not_accepted, acme.awaiting_answer) == (8 * n, 3 * n, n)
    assert acme.acceptance_rate == pytest.approx(8 / 11)
    won = expected_won(40)
    assert won == 123
    assert (acme.won, acme.decided, acme.open) == (won, 10 * n, 2 * n)
    assert (acme.lost, acme.rejected, acme.disqualified) == (6 * n - won, 3 * n, n)
    assert acme.precision == pytest.approx(123 / 610)
    assert acme.won_of_all == pytest.approx(123 / 732)
    assert acme.meets_target is False
    assert (acme.touched, acme.first_touch_median_hours) == (11 * n, 6.0)
    assert acme.policy.current_threshold == 50 and acme.policy.target_precision == 0.30

    calibration = acme.calibration
    assert [r.threshold for r in calibration.rows] == list(SCORES)
    for row in calibration.rows:
        t = row.threshold
        assert row.handoffs == 12 * (101 - t), t
        assert row.per_day == pytest.approx(12 * (101 - t) / 30, abs=1e-3), t
        assert (row.decided, row.won) == (10 * (101 - t), expected_won(t)), t
        assert row.precision == pytest.approx(expected_won(t) / (10 * (101 - t))), t
        assert row.enough_data == (t <= 99), t
        assert row.meets_target == (t >= 70), t
        assert row.within_capacity, t
    at_70 = calibration.rows[70 - 40]
    assert (at_70.won, at_70.decided) == (93, 310)
    assert calibration.status == "recommended" and calibration.recommended_threshold == 70
    assert calibration.lowest_judged_score == 40
    assert "hand off from score 70: precision 30% (93/310 decided)" in calibration.message
    assert "raise the scenario's threshold (now 50)" in calibration.message


def test_hand_offs_before_the_period_and_of_other_products_are_apart(data_set: Store) -> None:
    everything = build_report(data_set, Path("no-scenarios"), until=UNTIL)
    by_product = {p.product: p for p in everything.products}
    assert set(by_product) == {"acme", "other"}
    assert by_product["other"].won == 30 and by_product["other"].precision == 1.0
    assert by_product["other"].policy.source.startswith("defaults")
    assert by_product["acme"].handoffs == 12 * 61 + 20  # no --since: the early ones count
    with pytest.raises(UnknownProduct, match="known products: acme, other"):
        build_report(data_set, Path("no-scenarios"), product="acne")


@pytest.mark.parametrize(
    ("capacity", "min_decided", "status", "threshold"),
    [
        (5, 20, "recommended", 89),  # 12 × 12 / 30 = 4.8/day; from 88: 5.2/day
        (1, 20, "recommended", 99),  # 0.8/day on exactly 20 decided
        (1, 21, "over_capacity", None),  # within 1/day only score 99+: too few outcomes
    ],
)
def test_capacity_pushes_the_recommendation_up(
    data_set: Store, capacity: int, min_decided: int, status: str, threshold: int | None
) -> None:
    outcomes = [o for o in load_outcomes(data_set, product="acme", since=SINCE) if o.delivered]
    calibration = calibrate(
        outcomes,
        days=30,
        target=0.30,
        capacity=capacity,
        current_threshold=50,
        min_decided=min_decided,
    )
    assert (calibration.status, calibration.recommended_threshold) == (status, threshold)
    if status == "recommended":
        assert "score ≥ 70 meets the target but exceeds" in calibration.message
    else:
        assert (
            "score ≥ 70 meets the target (30% ≥ 30%) but brings 12.4 hand-offs/day, over the "
            "daily capacity of 1" in calibration.message
        )


def test_capacity_and_target_come_from_the_scenario(
    data_set: Store, settings: Settings, tmp_path: Path
) -> None:
    scenarios = acme_scenarios(
        settings, tmp_path, "  target_precision: 0.45\n  daily_capacity: 5\n"
    )
    [acme] = build_report(data_set, scenarios, product="acme", since=SINCE, until=UNTIL).products
    assert (acme.policy.target_precision, acme.policy.daily_capacity) == (0.45, 5)
    # ≥ 45%: from 87 up ((3 × 3 + 55) / 140 = 45.7%; 86: 67/150 = 44.7%); 4.8/day from 89.
    assert acme.calibration.recommended_threshold == 89


def test_no_threshold_meets_the_target(data_set: Store) -> None:
    outcomes = [o for o in load_outcomes(data_set, product="acme", since=SINCE) if o.delivered]
    calibration = calibrate(outcomes, days=30, target=0.6, capacity=None, current_threshold=50)
    assert calibration.status == "target_not_met" and calibration.recommended_threshold is None
    assert "no threshold reaches the target precision of 60%" in calibration.message
    assert "the best is score ≥ 90 at 50% (55/110)" in calibration.message


def test_too_little_data_and_each_hand_off_of_a_journey_judged_apart(store: Store) -> None:
    writer = Writer()
    twice = writer.journey("acme")
    writer.hand_off(twice, 55, SINCE + timedelta(days=1), "rejected")
    writer.hand_off(twice, 80, SINCE + timedelta(days=9), "won", handoff_no=2)
    for score in (60, 70, 90):
        writer.hand_off(writer.journey("acme"), score, SINCE + timedelta(days=2), "lost")
    writer.hand_off(writer.journey("acme"), 65, SINCE + timedelta(days=3), "awaiting")
    writer.save(store)

    outcomes = sorted(load_outcomes(store, product="acme"), key=lambda o: o.score)
    assert [(o.score, o.outcome, o.accepted) for o in outcomes] == [
        (55, "rejected", False),
        (60, "lost", True),
        (65, "open", None),
        (70, "lost", True),
        (80, "won", True),
        (90, "lost", True),
    ]
    report = product_report("acme", outcomes, Policy(), since=None, until=UNTIL)
    assert report.days == 29  # from the first hand-off's day, Jan 2
    assert report.precision == pytest.approx(1 / 5)
    assert report.calibration.status == "too_little_data"
    assert report.calibration.recommended_threshold is None
    assert "5 decided hand-off(s) (1 still open); at least 20 are needed" in (
        report.calibration.message
    )
    assert len(report.calibration.rows) == 6  # still shown, to read with care


def test_every_actor_the_journey_records_is_a_system_actor() -> None:
    """First touch = first move by an actor the journey does not record itself: if the
    journey gains an actor, SYSTEM_ACTORS must learn it or it would count as sales."""
    source = (REPO / "workflows" / "lead_journey.py").read_text()
    actors = set(re.findall(r'actor="([^"]+)"', source))
    assert actors and actors <= SYSTEM_ACTORS, actors - SYSTEM_ACTORS


def test_a_sales_generated_leads_own_moves_before_a_handoff_are_no_handoff() -> None:
    """An SGL journey starts with sales' move into `sql` (lifecycle.SGL_ACTOR, not a system
    actor: it is sales'); only a later hand-off, from its first `mql`, is judged."""
    t = SINCE
    moves = [
        Move(1, "sql", "sales", t),
        Move(2, "recycled", "kato", t + HOUR),
        Move(3, "mql", "journey", t + 50 * HOUR),
        Move(4, "handed_off", "journey", t + 50 * HOUR),
        Move(5, "sal", "kato", t + 53 * HOUR),
    ]
    segments = split_by_handoff(moves)
    assert list(segments) == [1] and segments[1][0].to_lifecycle == "mql"
    outcome = classify("j", 1, "acme", 60, t, segments[1])
    assert (outcome.outcome, outcome.accepted, outcome.first_touch) == ("open", True, 3 * HOUR)


def test_classify_open_withdrawn_and_first_touch() -> None:
    t = SINCE

    def judge(*moves: tuple[str, str, int]) -> tuple[str, bool | None, timedelta | None]:
        segment = [Move(i, to, actor, t + h * HOUR) for i, (to, actor, h) in enumerate(moves)]
        o = classify("j", 1, "acme", 60, t, segment or None)
        return o.outcome, o.accepted, o.first_touch

    assert judge() == ("open", None, None)  # no transitions recorded
    assert judge(("mql", "journey", 0)) == ("open", None, None)  # being recorded
    assert judge(("mql", "journey", 0), ("disqualified", "sales", 1))[0] == "withdrawn"
    handed = (("mql", "journey", 0), ("handed_off", "journey", 1))
    assert judge(*handed, ("sal", "journey", 2), ("sql", "kenji", 5)) == ("open", True, 4 * HOUR)
    assert judge(*handed, ("sal", "sales", 3), ("recycled", "sales", 9)) == (
        "rejected",
        True,
        2 * HOUR,
    )


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ("  target_precision: 0\n", "greater than 0"),
        ("  target_precision: 1.5\n", "less than or equal to 1"),
        ("  daily_capacity: 0\n", "greater than or equal to 1"),
    ],
)
def test_scenario_refuses_impossible_targets(
    settings: Settings, tmp_path: Path, extra: str, error: str
) -> None:
    scenarios = acme_scenarios(settings, tmp_path, extra)
    with pytest.raises(ScenarioError, match=error):
        load_scenario_dir(scenarios / "acme")


async def test_cli_prints_the_report_and_json(
    data_set: Store, settings: Settings, tmp_path: Path
) -> None:
    acme_scenarios(settings, tmp_path, "  daily_capacity: 5\n")
    period = ["--since", "2026-01-01", "--until", "2026-01-31"]
    code, output = await run_starter(
        settings, "report", "handoffs", "--product", "acme", *period, script="-m nurture.cli"
    )
    assert code == 0, output
    assert "precision 20.2% (won / 610 decided) · target 30% ✗ below" in output
    assert "acceptance rate 72.7% of 671 answered; awaiting answer: 61" in output
    assert "6.0 h" in output and "median over 671 touched" in output
    row_89 = next(line for line in output.splitlines() if line.lstrip("│ ").startswith("89 "))
    assert "◀ recommended" in row_89 and "48.3%" in row_89
    assert "→ hand off from score 89" in output
    assert "selection_bias: only leads that were handed off have outcomes" in output

    code, output = await run_starter(
        settings,
        "report",
        "handoffs",
        "--product",
        "acme",
        *period,
        "--json",
        script="-m nurture.cli",
    )
    assert code == 0, output
    data = json.loads(output)
    [acme] = data["products"]
    assert (acme["handoffs"], acme["won"], acme["decided"], acme["days"]) == (732, 123, 610, 30)
    assert acme["calibration"]["recommended_threshold"] == 89
    assert acme["policy"]["daily_capacity"] == 5
    assert "won / decided" in data["definitions"]["precision"]


async def test_cli_errors_are_clear(store: Store, settings: Settings) -> None:
    code, output = await run_starter(
        settings, "report", "handoffs", "--since", "2026-02-30", script="-m nurture.cli"
    )
    assert code == 2 and "--since: expected a date YYYY-MM-DD, got '2026-02-30'" in output
    code, output = await run_starter(
        settings, "report", "handoffs", "--product", "acne", script="-m nurture.cli"
    )
    assert code == 2 and "unknown product 'acne'" in output and "known products: acme" in output
