"""`nurture journeys` against a dev server: count, list, and a bulk stop by query."""

from __future__ import annotations

import json

from nurture.worker_setup import build_worker
from tests.helpers.devstack import Stack, journeys_shown, start_leads
from tests.helpers.processes import run_starter


async def test_count_list_pause_resume_and_stop(stack: Stack) -> None:
    async with build_worker(stack.client, stack.settings, stack.store):
        await start_leads(stack, 3)

        async def nurture(*args: str) -> tuple[int, str]:
            return await run_starter(stack.settings, "journeys", *args, script="-m nurture.cli")

        assert await nurture("count", "acme") == (0, "3\n")
        code, out = await nurture("list", "acme", "--json")
        rows = json.loads(out)
        assert code == 0 and [r["stage"] for r in rows] == ["cold"] * 3
        code, out = await nurture("list", "acme")
        assert code == 0 and out.startswith("lead ") and out.count(" nurturing ") == 3, out

        code, out = await nurture("pause", "acme", "--yes", "--reason", "incident")
        assert code == 0 and "pause 3 journeys" in out and "completed: 3 of 3 done" in out, out
        await journeys_shown(stack, 0, "NextTouchAt IS NOT NULL")
        code, out = await nurture("resume", "acme", "-y")
        assert code == 0 and "completed: 3 of 3 done, 0 failed" in out, out
        await journeys_shown(stack, 3, "NextTouchAt IS NOT NULL")

        one = rows[0]["journey_id"]
        code, out = await nurture("stop", "acme", "--where", f'WorkflowId = "{one}"', "-y")
        assert code == 0 and "stop 1 journeys" in out, out
        await journeys_shown(stack, 2)
        assert await nurture("count", "acme", "--where", 'LeadStage = "hot"') == (0, "0\n")
        code, out = await nurture("pause", "acme", "--where", 'LeadStage = "hot"', "-y")
        assert code == 0 and "no running journey of 'acme' matches" in out
        code, out = await nurture("count", "acme", "--where", "LeadStage = (")
        assert code == 2 and "unbalanced parentheses" in out
