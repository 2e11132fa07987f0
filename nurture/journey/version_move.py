"""Where a running journey continues when a new version of its scenario is rolled out to it.

Pure: the journey's `scenario_update` and the rollout's dry run (the `scenario_update_preview`
query) both call `plan_version_move`, so a dry run predicts exactly what the update does.
The rules, in a marketer's words:

- the same track and step key continues where it was;
- a removed step continues at the next step of the track that the new version still has;
- a removed track continues where the new version's `migrations:` says (a renamed track:
  the steps it shares with the old one by key count as had), else on its entry track, at
  the first step the lead has not had;
- no step a lead has had is sent again, and the wait already running keeps its anchor (the
  last send): a changed wait re-plans from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from nurture.journey.contract import JourneyMemory
from nurture.journey.lifecycle import TERMINAL
from nurture.journey.rules import first_unsent_step
from nurture.scenario.model import Scenario


@dataclass(frozen=True)
class VersionMove:
    """Where the journey continues under the new version, and why; or why it cannot move."""

    track: str = ""
    step_index: int = 0
    new_track_entry: bool = False
    carries_sent: bool = False
    why: str = ""
    refused: str | None = None


# The error types a journey refuses a version move with: a rollout counts a journey already
# on the version (an earlier try of its own, or a second rollout) apart from a refusal.
REFUSED = "VersionMoveRefused"
ALREADY_ON_VERSION = "AlreadyOnVersion"


class Refusal(NamedTuple):
    why: str
    type: str = REFUSED


def refusal(m: JourneyMemory | None, version: str) -> Refusal | None:
    """Why a journey cannot take any new version now (checked before the version is loaded)."""
    if m is None:
        return Refusal("the journey is still starting; retry in a moment")
    if m.ended_reason is not None:
        return Refusal(f"the journey has ended ({m.ended_reason})")
    if m.lifecycle in TERMINAL:
        return Refusal(f"the lead is {m.lifecycle}: nothing of a new version would reach it")
    if m.scenario.version == version:
        return Refusal(f"the journey already runs version {version}", ALREADY_ON_VERSION)
    return None


def plan_version_move(m: JourneyMemory, new: Scenario) -> VersionMove:
    """Map the journey's place in its scenario onto `new` (see the module's rules)."""
    refused = refusal(m, new.version)
    if refused is not None:
        return VersionMove(refused=refused.why)
    if new.product != m.scenario.product:
        return VersionMove(
            refused=f"version {new.version} is of product {new.product!r}, "
            f"not {m.scenario.product!r}"
        )
    if m.track in new.tracks:
        return _same_track(m, new)
    target = new.migrations.get(m.track, new.entry_track)
    if target not in new.tracks:  # a validated scenario never has this; a stored one might
        return VersionMove(
            refused=f"track {m.track!r} is gone and its migration target {target!r} is not "
            f"a track of version {new.version}"
        )
    mapped = m.track in new.migrations
    how = "the migrations map" if mapped else "the entry track"
    steps = new.tracks[target].steps
    return VersionMove(
        track=target,
        step_index=first_unsent_step(steps, _had_on(m, target, mapped)),
        new_track_entry=True,
        carries_sent=mapped,
        why=f"track '{m.track}' removed; continues on '{target}' ({how})",
    )


def _had_on(m: JourneyMemory, target: str, mapped: bool) -> list[str]:
    """The steps of `target` this lead has had. A track the migrations map names is the
    removed one under a new name: a step key it shares with it is the same email."""
    had = list(m.steps_sent.get(target, []))
    return had + m.steps_sent.get(m.track, []) if mapped else had


def _same_track(m: JourneyMemory, new: Scenario) -> VersionMove:
    old_keys = [s.key for s in m.scenario.tracks[m.track].steps]
    new_keys = [s.key for s in new.tracks[m.track].steps]
    sent = set(m.steps_sent.get(m.track, []))
    ahead = old_keys[m.step_index :]
    kept = next((key for key in ahead if key in new_keys), None)
    if kept is not None:
        index = new_keys.index(kept)
        why = (
            f"step '{kept}' continues"
            if not ahead or kept == ahead[0]
            else f"step '{ahead[0]}' removed; continues at '{kept}'"
        )
    else:
        done = [new_keys.index(key) for key in old_keys[: m.step_index] if key in new_keys]
        index = max(done) + 1 if done else 0
        why = (
            f"step '{ahead[0]}' removed; continues after the steps it had"
            if ahead
            else "track was complete; continues with the steps the new version adds"
        )
    while index < len(new_keys) and new_keys[index] in sent:
        index += 1
    return VersionMove(track=m.track, step_index=index, why=why)


def apply_version_move(m: JourneyMemory, new: Scenario, move: VersionMove) -> None:
    """Put the journey on `new` where `move` says. The step anchor stays (the last send):
    a changed wait re-plans from it; a deferral (weekly cap, outage) still holds."""
    assert move.refused is None
    m.scenario = new
    if move.new_track_entry:
        if move.carries_sent:
            had = _had_on(m, move.track, mapped=True)
            m.steps_sent[move.track] = list(dict.fromkeys(had))
        m.track = move.track
        m.track_entries += 1  # a fresh send key per entry, as a branch gives
    m.step_index = move.step_index
    m.version_moves += 1
    m.rescore_pending = True
