"""Where a journey continues on a new scenario version: the rules, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from nurture.journey.contract import JourneyMemory
from nurture.journey.rules import next_step_index
from nurture.journey.version_move import (
    ALREADY_ON_VERSION,
    REFUSED,
    Refusal,
    apply_version_move,
    plan_version_move,
    refusal,
)
from nurture.scenario.loader import load_scenario
from nurture.scenario.model import Scenario, Step, Track
from tests.helpers.paths import SCENARIOS

NOW = datetime(2026, 12, 2, 3, tzinfo=UTC)
ACME = load_scenario(SCENARIOS, "acme")


def on(track: str, step_index: int, sent: dict[str, list[str]] | None = None) -> JourneyMemory:
    return JourneyMemory(
        started_at=NOW,
        scenario=ACME,
        track=track,
        step_index=step_index,
        step_anchor=NOW,
        steps_sent=sent or {},
    )


def version(tracks: dict[str, list[str]], **fields: object) -> Scenario:
    """ACME with these tracks (step keys), as another version."""
    note = ACME.tracks["cold"].steps[0]

    def steps(keys: list[str]) -> list[Step]:
        return [note.model_copy(update={"key": key}) for key in keys]

    built = {name: Track(steps=steps(keys)) for name, keys in tracks.items()}
    return ACME.model_copy(
        update={"tracks": built, "version": "v2", "entry_track": next(iter(tracks))} | fields
    )


COLD = ["welcome", "guide", "benchmark", "checklist", "story", "trends", "roundup"]
SENT = {"cold": ["welcome", "guide"]}


def test_the_same_step_continues_even_when_steps_are_added_before_it() -> None:
    move = plan_version_move(on("cold", 2, SENT), version({"cold": ["intro", *COLD]}))
    assert (move.track, move.step_index, move.why) == ("cold", 3, "step 'benchmark' continues")


def test_a_removed_step_continues_at_the_next_step_the_version_still_has() -> None:
    without = [k for k in COLD if k not in ("benchmark", "checklist")]
    move = plan_version_move(on("cold", 2, SENT), version({"cold": without}))
    assert move.step_index == without.index("story")
    assert move.why == "step 'benchmark' removed; continues at 'story'"


def test_with_every_later_step_removed_it_continues_after_the_steps_it_had() -> None:
    move = plan_version_move(on("cold", 2, SENT), version({"cold": ["welcome", "guide", "new"]}))
    assert move.step_index == 2  # 'new': never had
    assert move.why == "step 'benchmark' removed; continues after the steps it had"


def test_a_complete_track_gets_the_steps_a_version_appends() -> None:
    sent = {"cold": COLD}
    move = plan_version_move(on("cold", 7, sent), version({"cold": [*COLD, "extra"]}))
    assert (move.step_index, move.why) == (
        7,
        "track was complete; continues with the steps the new version adds",
    )


def test_a_step_already_had_is_never_planned_again() -> None:
    reordered = ["welcome", "benchmark", "guide", "checklist"]  # guide, had, moved later
    move = plan_version_move(on("cold", 2, SENT), version({"cold": reordered}))
    assert reordered[move.step_index] == "benchmark"
    m = on("cold", 2, SENT)
    apply_version_move(m, version({"cold": reordered}), move)
    m.steps_sent["cold"].append("benchmark")
    assert reordered[next_step_index(m)] == "checklist"  # guide, had, is passed over
    unmoved = on("cold", 1, SENT)
    assert next_step_index(unmoved) == 2  # journeys that never moved: as recorded


def test_a_removed_track_goes_to_its_migration_or_the_entry_track() -> None:
    warm = on("warm", 1, {"warm": ["case-study"]})
    mapped = version(
        {"cold": COLD, "engaged": ["case-study", "demo-invite"]}, migrations={"warm": "engaged"}
    )
    move = plan_version_move(warm, mapped)
    assert (move.track, move.step_index, move.new_track_entry) == ("engaged", 1, True)
    apply_version_move(warm, mapped, move)
    assert warm.steps_sent["engaged"] == ["case-study"] and warm.track_entries == 2
    assert warm.rescore_pending
    gone = version({"cold": COLD, "engaged": ["case-study"]})
    fallback = plan_version_move(on("warm", 1, {"cold": ["welcome"]}), gone)
    assert (fallback.track, fallback.step_index) == ("cold", 1)
    assert fallback.why == "track 'warm' removed; continues on 'cold' (the entry track)"


def test_what_no_version_can_move_is_refused_with_the_reason() -> None:
    assert refusal(None, "v2") == ("the journey is still starting; retry in a moment", REFUSED)
    ended = on("cold", 1)
    ended.ended_reason = "track 'cold' complete"
    assert refusal(ended, "v2") == ("the journey has ended (track 'cold' complete)", REFUSED)
    won = on("cold", 1)
    won.lifecycle = "customer"
    assert refusal(won, "v2") == Refusal(
        "the lead is customer: nothing of a new version would reach it"
    )
    assert refusal(on("cold", 1), ACME.version) == (
        f"the journey already runs version {ACME.version}",
        ALREADY_ON_VERSION,
    )
    other = version({"cold": COLD}, product="other")
    assert plan_version_move(on("cold", 1), other).refused == (
        "version v2 is of product 'other', not 'acme'"
    )
