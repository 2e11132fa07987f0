"""Replay recorded LeadJourney histories against today's workflow code.

A failure here means a change would break journeys already running in production:
guard it with `workflow.patched(...)` instead of changing the command sequence.
Recordings are only ever added: `test_recordings_are_only_added` fails when one is
modified or deleted, in the working tree or in any commit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.helpers.paths import TESTS
from workflows.lead_journey import LeadJourney

HERE = TESTS
HISTORIES = sorted((HERE / "histories").glob("lead_journey_*.json"))
REPO = HERE.parent

# Recordings that today's code cannot replay, and why. Each was made by code that never
# landed; no released journey has its shape (docs/contracts.md, "Versioning running
# journeys").
CANNOT_REPLAY = {
    "lead_journey_capacity_business_hours_before_move": (
        "recorded at 182825f, where `handoff-capacity-business-hours` was checked after the "
        "lead's move to mql; 994d8f7 moved the check before it in the same landing, so the "
        "released position is the later one and a marker cannot sit in two places"
    ),
}

# Changes to recordings made before the rule was enforced (commit, status, path): history
# that cannot be rewritten. Nothing may be added to this list.
GRANDFATHERED_CHANGES = {
    (
        "994d8f76b9b6ab50539cfe58bf594829acc1e44d",
        "M",
        "tests/histories/lead_journey_capacity_business_hours.json",
    ),
}
RULE_SINCE = "994d8f76b9b6ab50539cfe58bf594829acc1e44d"  # older commits re-recorded pre-release


def test_histories_are_checked_in() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize(
    "path", [p for p in HISTORIES if p.stem not in CANNOT_REPLAY], ids=lambda p: p.stem
)
async def test_recorded_history_replays(path: Path) -> None:
    raw = path.read_text()
    events = json.loads(raw)["events"]
    history = WorkflowHistory.from_json("journey:acme:recorded", raw)
    replayer = Replayer(workflows=[LeadJourney], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
    assert events[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


@pytest.mark.parametrize("stem", sorted(CANNOT_REPLAY))
async def test_unreplayable_recordings_are_known(stem: str) -> None:
    """A recording listed as unreplayable fails for the documented reason; if it starts to
    replay, it belongs in the replay test instead (delete it from CANNOT_REPLAY)."""
    path = HERE / "histories" / f"{stem}.json"
    history = WorkflowHistory.from_json("journey:acme:recorded", path.read_text())
    replayer = Replayer(workflows=[LeadJourney], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError, match="handoff-capacity-business-hours"):
        await replayer.replay_workflow(history, raise_on_replay_failure=True)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    ).stdout


def test_recordings_are_only_added() -> None:
    """No recording is modified or deleted: not uncommitted, not in any commit since the
    rule (a re-recorded history hides the journeys the old one proved)."""
    if not (REPO / ".git").exists():
        pytest.fail("tests/workflows/test_replay.py needs the git checkout to check the recordings")
    dirty = [
        line
        for line in _git("status", "--porcelain", "--", "tests/histories").splitlines()
        if line[:2].strip() not in ("A", "??") and line.endswith(".json")
    ]
    assert not dirty, f"recorded histories changed in the working tree: {dirty}"
    changes = set()
    commit = ""
    log = _git(
        "log", "--format=@%H", "--name-status", f"{RULE_SINCE}^..HEAD", "--", "tests/histories"
    )
    for line in log.splitlines():
        if line.startswith("@"):
            commit = line[1:]
        elif line and line[0] in "MDR" and line.split("\t")[-1].endswith(".json"):
            changes.add((commit, line[0], line.split("\t")[1]))
    assert changes <= GRANDFATHERED_CHANGES, (
        "recorded histories were modified or deleted; add a new recording instead: "
        f"{sorted(changes - GRANDFATHERED_CHANGES)}"
    )
