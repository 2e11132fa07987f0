"""Record LeadJourney histories for the replay tests: `python -m tests.histories.record [NAME...]`.

Re-record only when a change is deliberately incompatible *and* guarded for running
journeys; otherwise keep the old files, so replay proves old journeys still run.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from nurture import search_attributes
from nurture.config import Settings
from nurture.events import BehaviorEvent
from nurture.journey import JourneyResult, SalesFeedback, Unsubscribe
from nurture.journeys import start_journey
from nurture.store import LeadIn, Store
from nurture.worker_setup import build_worker
from tests.conftest import CONSENT, SCENARIOS, test_server_path

HERE = Path(__file__).parent


async def _event(env: WorkflowEnvironment, handle: WorkflowHandle, n: int, type: str) -> None:
    at = await env.get_current_time()
    await handle.signal("behavior", BehaviorEvent(event_id=f"e{n}", type=type, occurred_at=at))
    await env.sleep(timedelta(minutes=5))


async def _hand_off_and_recycle(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    """Steps, a trigger, a hand-off, rejection, recycling, then acceptance and a win."""
    await env.sleep(timedelta(days=31))
    await _event(env, handle, 1, "document_download")
    for n in range(2, 5):
        await _event(env, handle, n, "product_page")
    await _event(env, handle, 5, "pricing_page")
    await handle.execute_update(
        "sales_feedback", SalesFeedback(outcome="rejected", reason="timing")
    )
    await env.sleep(timedelta(days=40))
    await _event(env, handle, 6, "webinar_attended")
    for n in range(7, 10):
        await _event(env, handle, n, "product_page")
    await _event(env, handle, 10, "pricing_page")
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="accepted"))
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="won"))


async def _pause_and_unsubscribe(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    await env.sleep(timedelta(days=3))
    await handle.signal("pause")
    await env.sleep(timedelta(days=40))
    await handle.signal("resume")
    await env.sleep(timedelta(days=10))
    await handle.signal("unsubscribe", Unsubscribe(mail_types=["trigger"]))
    await _event(env, handle, 1, "document_download")
    await handle.signal("unsubscribe", Unsubscribe())


async def _hand_off_with_sla(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    """A hand-off emailed to the owner, no feedback: the SLA reminder, the escalation, then
    acceptance and a win."""
    await env.sleep(timedelta(days=2))
    for n in range(1, 4):
        await _event(env, handle, n, "product_page")
    await _event(env, handle, 4, "pricing_page")
    await env.sleep(timedelta(days=10))
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="accepted"))
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="won"))


SCRIPTS = {
    "handoff_recycle_won": _hand_off_and_recycle,
    "pause_unsubscribe": _pause_and_unsubscribe,
    "handoff_sla": _hand_off_with_sla,
}
# Scripts that need more of the acme scenario than it says: (text, replacement).
SCENARIO_EDITS = {
    "handoff_sla": (
        "  recycle:\n",
        "  owner: sales@acme.example\n"
        "  sla: {business_days: 2, escalate_to: head-of-sales@acme.example}\n"
        "  recycle:\n",
    ),
}


def _scenarios(name: str, tmp: Path) -> Path:
    """The test scenarios, or a copy of acme with the script's edit."""
    if name not in SCENARIO_EDITS:
        return SCENARIOS
    old, new = SCENARIO_EDITS[name]
    shutil.copytree(SCENARIOS / "acme", tmp / "scenarios" / "acme")
    yaml = tmp / "scenarios" / "acme" / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(old, new, 1))
    return tmp / "scenarios"


async def record(name: str) -> Path:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path()
    )
    await search_attributes.register(env.client)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/nurture.db",
            scenarios_dir=_scenarios(name, Path(tmp)),
            outbox_dir=Path(tmp) / "outbox",
            task_queue="record",
            secret_key="record",
        )
        store = Store(settings.database_url)
        store.upgrade()
        lead, _ = store.upsert_lead(
            LeadIn(
                email=f"{name}@example.com",
                industry="saas",
                company_size=100,
                first_name="Rec",
                consent=CONSENT,
            )
        )
        async with build_worker(env.client, settings, store):
            outcome = await start_journey(env.client, settings, store, lead, "acme")
            handle = env.client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
            await SCRIPTS[name](env, env.client, handle)
            await handle.result()
            history = await handle.fetch_history()
        store.engine.dispose()
    await env.shutdown()
    path = HERE / f"lead_journey_{name}.json"
    path.write_text(history.to_json())
    return path


async def main(names: list[str]) -> None:
    """Record the named scripts (default: all). Keep old files: record only new scripts."""
    for name in names or SCRIPTS:
        print("recorded", await record(name))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
