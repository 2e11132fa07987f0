"""Replay recorded LeadJourney histories against today's workflow code.

A failure here means a change would break journeys already running in production:
guard it with `workflow.patched(...)` instead of changing the command sequence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.lead_journey import LeadJourney

HISTORIES = sorted((Path(__file__).parent / "histories").glob("lead_journey_*.json"))


def test_histories_are_checked_in() -> None:
    assert len(HISTORIES) >= 2


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    raw = path.read_text()
    events = json.loads(raw)["events"]
    workflow_id = "journey:acme:recorded"
    history = WorkflowHistory.from_json(workflow_id, raw)
    replayer = Replayer(workflows=[LeadJourney], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
    assert events[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
