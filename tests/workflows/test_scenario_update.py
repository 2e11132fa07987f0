"""Rolling an edited scenario out to a running journey (`scenario_update`), on the
time-skipping server: where it continues, what it sends next, and what it refuses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult, ScenarioUpdate, VersionMoveResult
from nurture.journey.version_move import ALREADY_ON_VERSION
from nurture.scenario.loader import load_scenario_dir
from nurture.scenario.model import Scenario
from nurture.store.engine import Store
from nurture.store.models import StageChange
from nurture.worker_setup import build_worker
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    make_lead,
    rows,
    sends,
    state,
)
from tests.helpers.scenarios import scenario_copy

GUIDE_30 = "{key: guide, wait: 30d,"
BENCHMARK = "      - {key: benchmark, wait: 30d, template: note, subject: Industry benchmark}\n"


def edit(folder: Path, old: str, new: str) -> Scenario:
    """Edit the scenario on disk (as marketing would) and return the new version."""
    path = folder / "scenario.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    return load_scenario_dir(folder)


async def journey_after_welcome(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> WorkflowHandle:
    await advance_to_weekday_noon_tokyo(env, 2)
    outcome = await start_journey(client, settings, store, make_lead(store), "acme")
    handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
    await eventually(handle, lambda s: s.emails_sent == 1)
    return handle


async def roll_out(handle: WorkflowHandle, new: Scenario) -> tuple[VersionMoveResult, ...]:
    """The dry run's prediction, then the update's answer."""
    predicted = await handle.query("scenario_update_preview", new, result_type=VersionMoveResult)
    moved = await handle.execute_update(
        "scenario_update", ScenarioUpdate(version=new.version), result_type=VersionMoveResult
    )
    return predicted, moved


async def test_a_shorter_wait_replans_from_the_last_send_and_nothing_is_sent_twice(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    async with build_worker(client, settings, store):
        handle = await journey_after_welcome(env, client, settings, store)
        welcome_at = (await state(handle)).timeline[0].at
        await env.sleep(timedelta(days=3))
        old = (await state(handle)).scenario_version
        new = edit(folder, GUIDE_30, "{key: guide, wait: 10d,")
        predicted, moved = await roll_out(handle, new)
        assert predicted == moved
        assert (moved.from_version, moved.to_version) == (old, new.version)
        assert (moved.from_track, moved.from_step, moved.to_step) == ("cold", "guide", "guide")
        assert moved.next_touch_before is not None and moved.next_touch_after is not None
        assert moved.next_touch_before - welcome_at >= timedelta(days=30)
        assert timedelta(days=10) <= moved.next_touch_after - welcome_at < timedelta(days=12)
        await env.sleep(timedelta(days=9))  # day 12: the guide has gone, on the new cadence
        st = await state(handle)
        assert st.scenario_version == new.version
        assert [s.send_key for s in sends(store)] == ["cold#1/welcome", "cold#1/guide"]
        assert any("by rollout: step 'guide' continues" in e.text for e in st.timeline)


async def test_a_removed_step_continues_at_the_next_one(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    async with build_worker(client, settings, store):
        handle = await journey_after_welcome(env, client, settings, store)
        new = edit(
            folder,
            "      - {key: guide, wait: 30d, template: note, "
            'subject: ["A guide for you", "Your guide"]}\n',
            "",
        )
        predicted, moved = await roll_out(handle, new)
        assert predicted == moved
        assert (moved.from_step, moved.to_step) == ("guide", "benchmark")
        assert moved.why == "step 'guide' removed; continues at 'benchmark'"
        await env.sleep(timedelta(days=32))
        keys = [s.send_key for s in sends(store)]
        assert keys == ["cold#1/welcome", "cold#1/benchmark"]


async def test_a_removed_track_goes_where_the_migrations_map_says(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    async with build_worker(client, settings, store):
        handle = await journey_after_welcome(env, client, settings, store)
        await behave(env, handle, "webinar_attended")  # cold → warm (a branch)
        await eventually(handle, lambda s: s.track == "warm")
        await env.sleep(timedelta(days=2))  # warm's case study has gone
        assert [s.send_key for s in sends(store)][-1] == "warm#2/case-study"
        text = (folder / "scenario.yaml").read_text()
        renamed = text.replace("  warm:\n", "  engaged:\n").replace("to: warm", "to: engaged")
        (folder / "scenario.yaml").write_text(renamed + "migrations:\n  warm: engaged\n")
        new = load_scenario_dir(folder)
        predicted, moved = await roll_out(handle, new)
        overdue = {"next_touch_after"}  # the demo invite is due: "now" is the move's moment
        assert predicted.model_dump(exclude=overdue) == moved.model_dump(exclude=overdue)
        assert (moved.from_track, moved.to_track) == ("warm", "engaged")
        assert moved.why == "track 'warm' removed; continues on 'engaged' (the migrations map)"
        assert (moved.from_step, moved.to_step) == ("demo-invite", "demo-invite")
        await env.sleep(timedelta(days=10))
        keys = [s.send_key for s in sends(store)]
        assert keys[-2:] == ["warm#2/case-study", "engaged#3/demo-invite"]  # no case study again


async def test_the_score_is_kept_and_rescored_under_the_new_rules(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    async with build_worker(client, settings, store):
        handle = await journey_after_welcome(env, client, settings, store)
        await behave(env, handle, "document_download")
        before = await eventually(handle, lambda s: s.score.total >= 25)
        assert before.stage == "warm"  # fit 15 + download 10
        new = edit(folder, "{points: 10, daily_cap: 20}", "{points: 40, daily_cap: 40}")
        predicted, moved = await roll_out(handle, new)
        assert predicted == moved
        assert (moved.score_before, moved.score_after) == (before.score.total, 55)
        assert (moved.stage_before, moved.stage_after) == ("warm", "hot")
        st = await eventually(handle, lambda s: s.stage == "hot")
        assert st.score.total == 55
        moves = [(r.from_stage, r.to_stage) for r in rows(store, StageChange)]
        assert moves[-1] == ("warm", "hot")


async def test_a_refused_move_leaves_the_journey_untouched(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path)
    async with build_worker(client, settings, store):
        handle = await journey_after_welcome(env, client, settings, store)
        before = await state(handle)
        with pytest.raises(WorkflowUpdateFailedError) as same:
            await handle.execute_update(
                "scenario_update", ScenarioUpdate(version=before.scenario_version)
            )
        assert f"already runs version {before.scenario_version}" in str(same.value.cause)
        assert (
            getattr(same.value.cause, "type", None) == ALREADY_ON_VERSION
        )  # a rollout's "already"
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update("scenario_update", ScenarioUpdate(version="0123abcd"))
        assert "no version '0123abcd' of scenario 'acme' is known" in str(unknown.value.cause)
        other = load_scenario_dir(settings.scenarios_dir / "acme").model_copy(
            update={"product": "other", "version": "feedbeef"}
        )
        with pytest.raises(WorkflowQueryFailedError, match="of product 'other'"):
            await handle.query("scenario_update_preview", other)
        after = await state(handle)
        assert after.scenario_version == before.scenario_version
        assert (after.track, after.step_key, after.next_touch_at) == (
            before.track,
            before.step_key,
            before.next_touch_at,
        )
        assert not any(e.kind == "version" for e in after.timeline)


async def test_a_journey_sales_owns_is_not_ended_by_a_shorter_track(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(settings, tmp_path)
    async with build_worker(client, settings, store):
        handle = await journey_after_welcome(env, client, settings, store)
        for _ in range(3):
            await behave(env, handle, "product_page")
        await eventually(handle, lambda s: s.track == "warm")
        await env.sleep(timedelta(days=2))  # the case study has gone
        await behave(env, handle, "pricing_page")
        await eventually(handle, lambda s: s.lifecycle == "handed_off")
        text = (folder / "scenario.yaml").read_text()
        invite = "      - {key: demo-invite, wait: 7d, template: note, subject: See it live}\n"
        assert invite in text and "    then: cold\n" in text
        (folder / "scenario.yaml").write_text(
            text.replace(invite, "").replace("    then: cold\n", "    then: end\n")
        )
        new = load_scenario_dir(folder)
        moved = await handle.execute_update(
            "scenario_update", ScenarioUpdate(version=new.version), result_type=VersionMoveResult
        )
        assert (moved.to_track, moved.to_step) == ("warm", None)  # past its last step
        st = await state(handle)
        assert (st.lifecycle, st.ended_reason, st.scenario_version) == (
            "handed_off",
            None,
            new.version,
        )  # sales still owns it: feedback and SLA emails go on
