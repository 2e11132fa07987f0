"""Record LeadJourney histories for the replay tests: `python -m tests.histories.record [NAME...]`.

Recordings are only ever added: never re-record or delete an existing file (the replay
test fails if one changes), so replay keeps proving that old journeys still run. Record a
new script for a new path, under a new name.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey import search_attributes
from nurture.journey.client import start_journey
from nurture.journey.contract import (
    JourneyResult,
    SalesFeedback,
    ScenarioUpdate,
    StopJourney,
    Unsubscribe,
)
from nurture.leads.events import BehaviorEvent
from nurture.leads.profile import LeadProfile
from nurture.scenario.loader import load_scenario_dir
from nurture.store.engine import LeadIn, Store
from nurture.worker_setup import build_worker
from tests.helpers.analytics import ab_arms
from tests.helpers.paths import CONSENT, SCENARIOS
from tests.helpers.temporal import test_server_path

HERE = Path(__file__).parent
TOKYO = ZoneInfo("Asia/Tokyo")


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


async def _opened_at(env: WorkflowEnvironment, handle: WorkflowHandle, n: int, hour: int) -> None:
    """A human open, earlier today at `hour`:05 in Tokyo."""
    now = (await env.get_current_time()).astimezone(TOKYO)
    at = now.replace(hour=hour, minute=5) - timedelta(days=1)
    await handle.signal(
        "behavior", BehaviorEvent(event_id=f"o{n}", type="email_open", occurred_at=at)
    )


async def _to_wednesday_noon(env: WorkflowEnvironment) -> None:
    now = (await env.get_current_time()).astimezone(TOKYO)
    target = now.replace(hour=12, minute=0, second=0, microsecond=0)
    target += timedelta(days=(2 - now.weekday()) % 7)
    if target <= now:
        target += timedelta(days=7)
    await env.sleep(target - now)


async def _hot(env: WorkflowEnvironment, handle: WorkflowHandle, first: int) -> None:
    for n in range(first, first + 3):
        await _event(env, handle, n, "product_page")
    await _event(env, handle, first + 3, "pricing_page")


async def _capacity_send_time_variants(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    """Send-time optimisation moves a step (an A/B content variant) to the lead's hour; a
    hand-off takes the day's one slot; recycled and hot again the same day (webinars), the lead
    waits in the queue until the next day, then is handed off, accepted and won."""
    for n in range(1, 4):
        await _opened_at(env, handle, n, 15)
    await env.sleep(timedelta(days=34))
    await _to_wednesday_noon(env)  # inside the send window: the day's slot is free
    await _hot(env, handle, 10)
    await handle.execute_update(
        "sales_feedback", SalesFeedback(outcome="rejected", reason="timing")
    )
    for n, kind in enumerate(("webinar_attended", "webinar_attended", "document_download"), 20):
        await _event(env, handle, n, kind)  # hot again today: today's slot is taken
    await env.sleep(timedelta(days=1))
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="accepted"))
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="won"))


async def _ab_promote(env: WorkflowEnvironment, client: Client, handle: WorkflowHandle) -> None:
    """The guide goes out 30 days after the welcome (and the send window): its A/B test has
    a winner (seeded), so the journey asks for it and sends it; then the lead unsubscribes."""
    await env.sleep(timedelta(days=35))
    await handle.signal("unsubscribe", Unsubscribe())


# The scenarios folder of the recording under way: a rollout script edits it mid-journey.
_current_scenarios: list[Path] = []


async def _roll_out(handle: WorkflowHandle, edits: list[tuple[str, str]]) -> None:
    """Edit the acme scenario on disk, as marketing would, and move the journey to it."""
    folder = _current_scenarios[-1] / "acme"
    yaml = folder / "scenario.yaml"
    text = yaml.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    yaml.write_text(text)
    version = load_scenario_dir(folder).version
    await handle.execute_update("scenario_update", ScenarioUpdate(version=version))


async def _rollout_two_versions(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    """Rolled out twice: a shorter guide wait and richer scoring (the guide goes out on the
    new cadence), then a removed step and a renamed track (migrations:); then behaviour,
    and the lead unsubscribes."""
    await env.sleep(timedelta(days=3))
    await _roll_out(
        handle,
        [
            ("{key: guide, wait: 30d,", "{key: guide, wait: 10d,"),
            ("{points: 15, daily_cap: 15}", "{points: 20, daily_cap: 20}"),
        ],
    )
    await env.sleep(timedelta(days=12))
    for n in range(1, 4):
        await _event(env, handle, n, "product_page")
    await _roll_out(
        handle,
        [
            (
                "      - {key: benchmark, wait: 30d, template: note, "
                "subject: Industry benchmark}\n",
                "",
            ),
            ("  warm:\n    description", "  engaged:\n    description"),
            ("to: warm", "to: engaged"),
            ("exit:\n", "migrations:\n  warm: engaged\nexit:\n"),
        ],
    )
    await env.sleep(timedelta(days=40))
    await handle.signal("unsubscribe", Unsubscribe())


async def _richer_paths(env: WorkflowEnvironment, client: Client, handle: WorkflowHandle) -> None:
    """A pattern trigger (the third product page), a download follow-up that names its
    document, a stage trigger on hot, then a goal that ends the journey as converted."""
    await env.sleep(timedelta(days=2))
    for n in range(1, 4):
        await _event(env, handle, n, "product_page")
    at = await env.get_current_time()
    download = BehaviorEvent(
        event_id="e4", type="document_download", occurred_at=at, properties={"document": "Guide"}
    )
    await handle.signal("behavior", download)
    await env.sleep(timedelta(days=1))
    await _event(env, handle, 5, "demo_booked")


async def _no_response(env: WorkflowEnvironment, client: Client, handle: WorkflowHandle) -> None:
    """The guide is not opened in 3 days: it goes again with another subject; an operator
    then stops the journey."""
    await env.sleep(timedelta(days=35))
    await handle.signal("stop", StopJourney(reason="recorded"))


async def _lost_then_renurtured(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    """A hand-off accepted then lost rests 90 days (`on_lost`), is nurtured again, then an
    operator stops the journey."""
    await env.sleep(timedelta(days=2))
    for n in range(1, 4):
        await _event(env, handle, n, "product_page")
    await _event(env, handle, 4, "pricing_page")
    for outcome in ("accepted", "lost"):
        await handle.execute_update("sales_feedback", SalesFeedback(outcome=outcome))
    await env.sleep(timedelta(days=95))
    await handle.signal("stop", StopJourney(reason="recorded"))


async def _customer_nurtured(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle
) -> None:
    """A custom attribute moves the lead to the warm track mid-wait; sales hands it back
    (a lifecycle trigger), takes it again and wins it; the customer rests 30 days
    (`on_customer`) and is nurtured again, then an operator stops the journey."""
    await env.sleep(timedelta(days=2))
    profile = LeadProfile(industry="saas", company_size=100, attributes={"plan": "pro"})
    await handle.signal("profile", profile)
    await env.sleep(timedelta(days=3))
    for n in range(1, 4):
        await _event(env, handle, n, "product_page")
    await _event(env, handle, 4, "pricing_page")
    await handle.execute_update("sales_feedback", SalesFeedback(outcome="rejected"))
    await env.sleep(timedelta(days=20))
    await _event(env, handle, 5, "webinar_attended")
    await _event(env, handle, 6, "pricing_page")
    for outcome in ("accepted", "won"):
        await handle.execute_update("sales_feedback", SalesFeedback(outcome=outcome))
    await env.sleep(timedelta(days=35))
    await handle.signal("stop", StopJourney(reason="recorded"))


async def _backlog(env: WorkflowEnvironment, client: Client, handle: WorkflowHandle) -> None:
    """A year of page views in one signal (patch bounded-replay): taken 100 per workflow
    task, the events carried pruned past 400; then an unsubscribe ends the journey."""
    await env.sleep(timedelta(days=1))
    now = await env.get_current_time()
    visits = [
        BehaviorEvent(
            event_id=f"v{day}", type="page_view", occurred_at=now - timedelta(days=450 - day)
        )
        for day in range(450)
    ]
    await handle.signal("behaviors", visits)
    await env.sleep(timedelta(hours=1))
    await _event(env, handle, 1, "document_download")
    await handle.signal("unsubscribe", Unsubscribe())


def _seed_guide_winner(store: Store) -> None:
    """30 earlier guide emails per variant: B clicked far more often than A."""
    ab_arms(store, (1, 15))


SCRIPTS = {
    "handoff_recycle_won": _hand_off_and_recycle,
    "pause_unsubscribe": _pause_and_unsubscribe,
    "handoff_sla": _hand_off_with_sla,
    "capacity_send_time_variants": _capacity_send_time_variants,
    # the same script once waiting hand-offs ask in business hours only
    "capacity_business_hours": _capacity_send_time_variants,
    "ab_promote": _ab_promote,
    # the hand-off script once stage moves are recorded (patch record-stage-moves): moves
    # on events, on decay and on recycling (in the sales_feedback update)
    "stage_moves": _hand_off_and_recycle,
    "rollout_two_versions": _rollout_two_versions,
    "richer_paths": _richer_paths,
    "no_response": _no_response,
    "lost_renurtured": _lost_then_renurtured,
    "customer_nurtured": _customer_nurtured,
    # the richer-paths script once the timer between steps is kept (patch keep-step-timer):
    # events that leave the next wake-up where it was, and events that move it
    "kept_step_timer": _richer_paths,
    # a backlog of behaviour taken in slices, pruned as it comes (patch bounded-replay)
    "backlog": _backlog,
}
# What a script needs in the store before its journey starts.
SEEDS = {"ab_promote": _seed_guide_winner}
# Scripts that need more of the acme scenario than it says: (text, replacement) edits.
SCENARIO_EDITS = {
    "handoff_sla": [
        (
            "  recycle:\n",
            "  owner: sales@acme.example\n"
            "  sla: {business_days: 2, escalate_to: head-of-sales@acme.example}\n"
            "  recycle:\n",
        )
    ],
    "capacity_send_time_variants": [
        ("  recycle:\n", "  daily_capacity: 1\n  recycle:\n"),
        (
            "  weekdays: [mon, tue, wed, thu, fri]\n",
            "  weekdays: [mon, tue, wed, thu, fri]\n  optimise_send_time: {min_events: 3}\n",
        ),
        ("template: note, subject: [", "template: [note, note], subject: ["),
    ],
}


SCENARIO_EDITS["capacity_business_hours"] = SCENARIO_EDITS["capacity_send_time_variants"]
SCENARIO_EDITS["lost_renurtured"] = [
    ("entry_track: cold", "on_lost: {after: 90d, track: cold}\nentry_track: cold")
]
SCENARIO_EDITS["no_response"] = [
    (
        'subject: ["A guide for you", "Your guide"]}',
        'subject: ["A guide for you", "Your guide"], '
        'unless_engaged: {within: 3d, resend: "Did you see our guide?"}}',
    )
]
SCENARIO_EDITS["richer_paths"] = [
    (
        "branches:",
        "  - key: product-offer\n"
        "    when: {pattern: product page 3+ times in 14 days}\n"
        "    template: note\n"
        "    subject: A special offer\n"
        "  - key: hot-call\n"
        "    when: {stage: hot}\n"
        "    template: note\n"
        "    subject: Shall we talk?\n"
        "branches:",
    ),
    ("entry_track: cold", "goals:\n  - {name: demo-booked, event: demo_booked}\nentry_track: cold"),
]
SCENARIO_EDITS["customer_nurtured"] = [
    (
        "entry_track: cold",
        "attributes:\n  plan: {type: enum, values: [starter, pro]}\n"
        "on_customer: {after: 30d, track: warm}\nentry_track: cold",
    ),
    (
        "branches:\n",
        "  - {key: still-here, when: {lifecycle: recycled}, template: note, subject: Still here}\n"
        "branches:\n  - {when: {lead: {plan: pro}}, from: [cold], to: warm}\n",
    ),
]
SCENARIO_EDITS["kept_step_timer"] = SCENARIO_EDITS["richer_paths"]
SCENARIO_EDITS["rollout_two_versions"] = []  # a copy: the script edits it
SCENARIO_EDITS["ab_promote"] = [
    ("exit:\n", "ab: {then: promote, min_sample: 20}\nexit:\n"),
]


def _scenarios(name: str, tmp: Path) -> Path:
    """The test scenarios, or a copy of acme with the script's edits."""
    if name not in SCENARIO_EDITS:
        return SCENARIOS
    shutil.copytree(SCENARIOS / "acme", tmp / "scenarios" / "acme")
    yaml = tmp / "scenarios" / "acme" / "scenario.yaml"
    text = yaml.read_text()
    for old, new in SCENARIO_EDITS[name]:
        assert old in text, old
        text = text.replace(old, new, 1)
    yaml.write_text(text)
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
        _current_scenarios.append(settings.scenarios_dir)
        store = Store(settings.database_url)
        store.upgrade()
        if name in SEEDS:
            SEEDS[name](store)
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
