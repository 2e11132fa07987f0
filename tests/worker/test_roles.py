"""Journeys and emails in separate worker processes (`nurture worker --role ...`), so each
gets a core of its own: the journey runs in one, its emails go out from the other."""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead, sends


async def test_a_workflows_worker_runs_journeys_and_an_activities_worker_sends_their_emails(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store, "workflows"):
        outcome = await start_journey(client, settings, store, make_lead(store), "acme")
        handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
        # the journey runs (its scenario loads as a local activity) but nothing is mailed
        st = await eventually(handle, lambda s: s.track == "cold")
        await asyncio.sleep(0.5)
        assert st.emails_sent == 0 and sends(store) == []

        async with build_worker(client, settings, store, "activities"):
            st = await eventually(handle, lambda s: s.emails_sent == 1)
    assert [s.status for s in sends(store)] == ["sent"]


async def test_a_worker_takes_no_more_than_it_can_run(
    client: Client, settings: Settings, store: Store
) -> None:
    """A burst waits in Temporal's queue: bounded workflow tasks, activities no more than
    their threads, local activities on threads of their own (docs/benchmarks.md#bursts)."""
    settings.worker_max_concurrent_workflow_tasks = 5
    config = build_worker(client, settings, store, activity_threads=12).config()
    assert config.get("max_concurrent_workflow_tasks") == 5
    assert config.get("max_concurrent_activities") == 12
    assert config.get("max_concurrent_local_activities") == 5
    executor = config.get("activity_executor")
    assert executor is not None and executor._max_workers == 12 + 5  # type: ignore[attr-defined]
