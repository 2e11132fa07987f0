"""Many journeys at once, on the dev server: list and count by search attributes, and a
batch operation that pauses, resumes and stops exactly the journeys a query names."""

from __future__ import annotations

import asyncio

import pytest

from nurture.journey import bulk
from nurture.journey.contract import JourneyState
from nurture.worker_setup import build_worker
from tests.helpers.devstack import Stack, journeys_shown, start_leads
from tests.helpers.processes import until

SECRET = "a secret of the test's own"


async def finished(stack: Stack, job_id: str) -> bulk.BulkStatus:
    async def done() -> bool:
        return (await bulk.status(stack.client, job_id)).state != "running"

    await until(done, timeout=60)
    return await bulk.status(stack.client, job_id)


async def paused(stack: Stack) -> list[bool]:
    rows = (await bulk.list_page(stack.client, "acme", secret=SECRET)).journeys
    states = await asyncio.gather(
        *(
            stack.client.get_workflow_handle(r.journey_id).query("state", result_type=JourneyState)
            for r in rows
        )
    )
    return [s.paused for s in states]


async def test_list_count_pause_resume_and_stop_by_query(stack: Stack) -> None:
    async with build_worker(stack.client, stack.settings, stack.store):
        version = await start_leads(stack, 5)
        assert await bulk.count(stack.client, "acme") == 5
        assert await bulk.count(stack.client, "acme", 'LeadStage = "hot"') == 0
        assert await bulk.count(stack.client, "other") == 0
        page = await bulk.list_page(stack.client, "acme", secret=SECRET, page_size=3)
        assert len(page.journeys) == 3 and page.next_page_token
        rest = await bulk.list_page(
            stack.client, "acme", secret=SECRET, page_token=page.next_page_token
        )
        with pytest.raises(bulk.BadPageToken, match="not one this list gave out"):
            await bulk.list_page(
                stack.client, "acme", secret="another", page_token=page.next_page_token
            )
        rows = page.journeys + rest.journeys
        assert len({r.journey_id for r in rows}) == 5
        row = rows[0]
        assert (row.product, row.stage, row.lifecycle, row.track) == (
            "acme",
            "cold",
            "nurturing",
            "cold",
        )
        assert row.scenario_version == version and row.next_touch_at is not None
        assert row.journey_id == f"journey:acme:{row.lead_id}" and "@" not in row.lead_id

        job = await bulk.start(stack.client, "pause", "acme", reason="incident 42")
        status = await finished(stack, job)
        assert (status.state, status.total, status.done, status.failed) == ("completed", 5, 5, 0)
        assert await paused(stack) == [True] * 5
        await journeys_shown(stack, 0, "NextTouchAt IS NOT NULL")  # paused: no next touch

        job = await bulk.start(stack.client, "resume", "acme")
        assert (await finished(stack, job)).done == 5
        assert await paused(stack) == [False] * 5

        one = f'WorkflowId = "{row.journey_id}"'
        job = await bulk.start(stack.client, "stop", "acme", one, reason="asked by sales")
        assert (await finished(stack, job)).total == 1
        await journeys_shown(stack, 4)
        ended = stack.client.get_workflow_handle(row.journey_id)
        result = await ended.result()
        assert result["reason"] == "stopped: asked by sales"
