"""`nurture versions`, `diff` and `rollout` as a marketer runs them, against a dev server."""

from __future__ import annotations

from nurture.scenario.loader import load_scenario_dir
from nurture.worker_setup import build_worker
from tests.helpers.devstack import Stack, journeys_shown, start_leads
from tests.helpers.processes import run_starter

WELCOME = (
    '      - {key: welcome, wait: 0d, template: note, subject: "Welcome, {{ lead.first_name }}"}\n'
)


async def nurture(stack: Stack, *args: str) -> tuple[int, str]:
    return await run_starter(stack.settings, *args, script="-m nurture.cli")


async def test_edit_diff_dry_run_rollout_status(stack: Stack) -> None:
    async with build_worker(stack.client, stack.settings, stack.store):
        old = await start_leads(stack, 3)
        path = stack.folder / "scenario.yaml"
        text = path.read_text().replace(WELCOME, "")
        path.write_text(text.replace("{key: guide, wait: 30d,", "{key: guide, wait: 10d,"))
        new = load_scenario_dir(stack.folder).version

        code, out = await nurture(stack, "versions", "acme")
        assert code == 0, out
        assert f"{old}  first used" in out and "· 3 running" in out
        assert f"{new}  not used yet · 0 running · the files now" in out

        code, out = await nurture(stack, "diff", "acme")
        assert code == 0, out
        assert f"acme: {old} → {new}" in out
        assert "cold: step 'welcome' removed (its journeys go on at the next step)" in out
        assert "cold/guide: wait 30d → 10d" in out

        code, out = await nurture(stack, "rollout", "acme", "--dry-run")
        assert code == 0, out
        assert f"dry run: 3 journeys would move to {new}, 0 would refuse; nothing changed" in out
        assert f"3 on cold/welcome ({old}) → cold/guide: step 'welcome' removed" in out

        code, out = await nurture(stack, "rollout", "acme", "--where", 'LeadStage="hot"', "-y")
        assert (code, "no running journey of 'acme' to move") == (0, out[:36]), out

        code, out = await nurture(stack, "rollout", "acme", "--where", 'LeadStage="hot" (', "-y")
        assert code == 2 and "unbalanced parentheses" in out, out

        code, out = await nurture(stack, "rollout", "acme", "--yes")
        assert code == 0, out
        assert f"rollout rollout:acme:{new} started (3 journeys, at most 20/s)" in out
        assert "finished: 3 moved · 0 already on it · 0 refused" in out

        code, out = await nurture(stack, "rollout", "status", "acme")
        assert code == 0 and "finished: 3 moved" in out, out
        await journeys_shown(stack, 3, f'ScenarioVersion = "{new}"')
        code, out = await nurture(stack, "versions", "acme")
        assert f"{new}  first used" in out and "· 3 running · the files now" in out, out

        code, out = await nurture(stack, "diff", "acme", "nope")
        assert code == 1 and "'nope' is not a version of 'acme'" in out, out
