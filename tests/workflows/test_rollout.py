"""ScenarioRollout on the Temporal dev server (the time-skipping server has no visibility
queries): a dry run predicts exactly what the rollout does, and a rollout survives a
worker killed in the middle of it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import ActivityEnvironment

from activities.rollout import RolloutActivities
from nurture.journey.contract import JourneyState
from nurture.rollout.contract import (
    WORKFLOW_TYPE,
    RolloutInput,
    RolloutProgress,
    UpdateJourneysInput,
    rollout_id,
)
from nurture.rollout.dry_run import dry_run
from nurture.rollout.queries import journeys_query
from nurture.scenario.loader import load_scenario_dir
from nurture.scenario.model import Scenario
from nurture.worker_setup import build_worker
from tests.helpers.devstack import Stack, journeys_shown, start_leads
from tests.helpers.processes import until, worker_process

LEADS = 12
WELCOME = (
    '      - {key: welcome, wait: 0d, template: note, subject: "Welcome, {{ lead.first_name }}"}\n'
)


async def journeys_on(stack: Stack, version: str, count: int) -> None:
    await journeys_shown(stack, count, f'ScenarioVersion = "{version}"')


def edited(stack: Stack) -> Scenario:
    """The welcome step removed (every journey still waits for it: Tokyo's send window),
    and the guide after 10 days instead of 30."""
    path = stack.folder / "scenario.yaml"
    text = path.read_text()
    assert WELCOME in text
    text = text.replace(WELCOME, "").replace("{key: guide, wait: 30d,", "{key: guide, wait: 10d,")
    path.write_text(text)
    return load_scenario_dir(stack.folder)


async def states(stack: Stack) -> dict[str, JourneyState]:
    found = {}
    async for execution in stack.client.list_workflows(journeys_query("acme")):
        handle = stack.client.get_workflow_handle(execution.id)
        found[execution.id] = await handle.query("state", result_type=JourneyState)
    return found


async def test_a_dry_run_predicts_exactly_the_moves_the_rollout_makes(stack: Stack) -> None:
    async with build_worker(stack.client, stack.settings, stack.store):
        old = await start_leads(stack, LEADS)
        new = edited(stack)
        query = journeys_query("acme", 'NurtureTrack = "cold"', not_on=new.version)
        predicted = await dry_run(stack.client, query, new)
        assert len(predicted.moves) == LEADS and not predicted.refused
        assert {(m.from_step, m.to_step) for m in predicted.moves} == {("welcome", "guide")}
        assert {m.why for m in predicted.moves} == {"step 'welcome' removed; continues at 'guide'"}
        assert all(m.from_version == old for m in predicted.moves)
        progress = await stack.client.execute_workflow(
            WORKFLOW_TYPE,
            RolloutInput(product="acme", version=new.version, where='NurtureTrack = "cold"'),
            id=rollout_id("acme", new.version),
            task_queue=stack.settings.task_queue,
            result_type=RolloutProgress,
        )
        assert (progress.state, progress.matched, progress.moved) == ("finished", LEADS, LEADS)
        assert progress.refused == progress.gone == 0
        await journeys_on(stack, new.version, LEADS)
        after = await states(stack)
        for move in predicted.moves:
            st = after[move.journey_id]
            assert (st.scenario_version, st.track, st.step_key) == (
                new.version,
                move.to_track,
                move.to_step,
            )
            assert st.next_touch_at == move.next_touch_after
        again = await dry_run(stack.client, query, new)
        assert again.moves == [] and again.refused == {}  # none is left on the old version
        # A batch tried again (its activity retried after the updates landed) moves nobody
        # twice: the update id is the same, so each journey answers with its first answer.
        retried = UpdateJourneysInput(version=new.version, journey_ids=sorted(after), by="test")
        outcomes = await ActivityEnvironment().run(
            RolloutActivities(stack.client).update_journeys, retried
        )
        assert {(o.outcome, o.detail) for o in outcomes} == {("moved", "cold/guide")}
        assert await states(stack) == after


async def test_a_rollout_interrupted_by_a_worker_kill_resumes_and_finishes(
    stack: Stack, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    worker = worker_process(stack.settings, log)
    try:
        await start_leads(stack, LEADS)
        new = edited(stack)
        handle = await stack.client.start_workflow(
            WORKFLOW_TYPE,
            RolloutInput(product="acme", version=new.version, rate=2, heartbeat_seconds=3),
            id=rollout_id("acme", new.version),
            task_queue=stack.settings.task_queue,
            result_type=RolloutProgress,
        )
        await journeys_on(stack, new.version, 2)  # the first batch (two journeys) is done
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = worker_process(stack.settings, log)
        progress = await handle.result()
        assert (progress.state, progress.moved, progress.refused) == ("finished", LEADS, 0)
        await journeys_on(stack, new.version, LEADS)
        versions = {s.scenario_version for s in (await states(stack)).values()}
        assert versions == {new.version}
    finally:
        worker.kill()
        worker.wait()


async def test_a_paused_rollout_moves_nobody_until_resumed_and_a_cancelled_one_stops(
    stack: Stack,
) -> None:
    async with build_worker(stack.client, stack.settings, stack.store):
        old = await start_leads(stack, 6)
        new = edited(stack)
        handle = await stack.client.start_workflow(
            WORKFLOW_TYPE,
            RolloutInput(product="acme", version=new.version, rate=1),
            id=rollout_id("acme", new.version),
            task_queue=stack.settings.task_queue,
            result_type=RolloutProgress,
        )
        await handle.signal("pause")

        async def held() -> bool:  # paused, and nothing of it in flight
            progress = await handle.query("progress", result_type=RolloutProgress)
            pending = (await handle.describe()).raw_description.pending_activities
            return progress.state == "paused" and progress.matched == 6 and not pending

        await until(held)
        progress = await handle.query("progress", result_type=RolloutProgress)
        await journeys_on(stack, old, 6 - progress.moved)  # whatever moved before the pause
        await handle.signal("resume")
        await journeys_on(stack, new.version, 6)
        assert (await handle.result()).moved == 6

        newer = edited_again(stack)
        second = await stack.client.start_workflow(
            WORKFLOW_TYPE,
            RolloutInput(product="acme", version=newer.version, rate=1),
            id=rollout_id("acme", newer.version),
            task_queue=stack.settings.task_queue,
            result_type=RolloutProgress,
        )
        await journeys_shown(stack, 1, f'ScenarioVersion = "{newer.version}"')
        await second.cancel()
        with pytest.raises(WorkflowFailureError):
            await second.result()
        progress = await second.query("progress", result_type=RolloutProgress)
        assert progress.state == "cancelled" and 1 <= progress.moved < 6


def edited_again(stack: Stack) -> Scenario:
    """The guide's subject changed: another version."""
    path = stack.folder / "scenario.yaml"
    path.write_text(path.read_text().replace('"A guide for you"', '"The guide for you"'))
    return load_scenario_dir(stack.folder)
