"""Send-time optimisation in a journey: each lead's steps go out in the hour its own human
opens cluster in; before it has enough, its role's hour; machine opens never count."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyInput, JourneyMemory, JourneyResult
from nurture.leads.events import BehaviorEvent
from nurture.scenario.loader import load_scenario
from nurture.scenario.pins import pin_templates
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent, record_events
from nurture.worker_setup import build_worker
from tests.helpers.journeys import (
    TOKYO,
    advance_to_weekday_noon_tokyo,
    eventually,
    make_lead,
    sends,
    utc,
)
from tests.helpers.paths import CONSENT
from tests.helpers.scenarios import scenario_copy

WEEKDAYS = "  weekdays: [mon, tue, wed, thu, fri]\n"
OPTIMISED = WEEKDAYS + "  optimise_send_time: {min_events: 3, default_hour: 11}\n"


def opened(event_id: str, at, *, machine: bool = False) -> BehaviorEvent:
    return BehaviorEvent(
        event_id=event_id,
        type="email_open",
        product="acme",
        occurred_at=at,
        properties={"machine_open": machine},
    )


async def wednesday_noon(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, **lead: object
) -> WorkflowHandle:
    await advance_to_weekday_noon_tokyo(env, 2)
    outcome = await start_journey(client, settings, store, make_lead(store, **lead), "acme")
    return client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)


def local_hours(store: Store) -> list[int]:
    return [utc(s.journey_time).astimezone(TOKYO).hour for s in sends(store)]


async def test_steps_go_out_in_the_hour_the_lead_opens_its_email(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old=WEEKDAYS, new=OPTIMISED)
    async with build_worker(client, settings, store):
        handle = await wednesday_noon(env, client, settings, store)
        st = await eventually(handle, lambda s: s.step_key == "welcome")
        assert st.send_hour == 11  # no history yet: the scenario's default hour
        await env.sleep(timedelta(days=1))  # the welcome goes at 11:00, not at once at noon
        await eventually(handle, lambda s: s.emails_sent == 1)
        assert local_hours(store) == [11]
        noon = await env.get_current_time()
        for days in (1, 2, 3):  # read at 15:xx on three days; a privacy proxy at 12:xx
            day = noon - timedelta(days=days)
            await handle.signal("behavior", opened(f"h{days}", day + timedelta(hours=3)))
            await handle.signal("behavior", opened(f"m{days}", day, machine=True))
        st = await eventually(handle, lambda s: s.send_hour == 15)
        await env.sleep(timedelta(days=34))  # 30 days, a weekend, the hour
        await eventually(handle, lambda s: s.emails_sent == 2)
    assert local_hours(store)[1] == 15


async def test_without_its_own_history_a_lead_gets_its_roles_hour(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old=WEEKDAYS, new=OPTIMISED)
    peer, _ = store.upsert_lead(
        LeadIn(email="peer@example.com", role="executive", timezone="Asia/Tokyo", consent=CONSENT)
    )
    now = (await env.get_current_time()).astimezone(TOKYO)
    reads = [  # executives of this product read at 10:xx Tokyo time
        opened(f"p{i}", (now - timedelta(days=i)).replace(hour=10, minute=30)) for i in range(1, 25)
    ]
    record_events(store, [LoggedEvent(e, lead_id=peer.id) for e in reads], deliver=False)
    async with build_worker(client, settings, store):
        handle = await wednesday_noon(env, client, settings, store, role="executive")
        st = await eventually(handle, lambda s: s.step_key == "welcome")
        assert st.send_hour == 10
        await env.sleep(timedelta(days=34))  # 30 days, a weekend, the hour
        await eventually(handle, lambda s: s.emails_sent == 2)
    assert local_hours(store) == [10, 10]


async def test_a_best_hour_outside_the_window_falls_back_to_the_default(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old=WEEKDAYS, new=OPTIMISED)
    async with build_worker(client, settings, store):
        handle = await wednesday_noon(env, client, settings, store)
        await eventually(handle, lambda s: s.step_key == "welcome")
        noon = await env.get_current_time()
        for days in (1, 2, 3):  # reads mail at 22:xx, when nothing may go out
            day = noon - timedelta(days=days)
            await handle.signal("behavior", opened(f"late{days}", day + timedelta(hours=10)))
        st = await eventually(handle, lambda s: len(s.timeline) >= 4)
        assert st.send_hour == 11


async def test_a_journey_continued_as_new_keeps_the_versions_it_ran(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    """A journey that replayed an old run without send-time optimisation carries that
    decision in its memory; the run it continues as new must not switch the feature on."""
    folder = scenario_copy(settings, tmp_path, old=WEEKDAYS, new=OPTIMISED)
    scenario = load_scenario(folder.parent, "acme")
    pin_templates(store, folder, "acme", scenario.version)
    lead = make_lead(store)
    now = await env.get_current_time()

    def carried(versions: dict[str, bool]) -> JourneyInput:
        memory = JourneyMemory(
            started_at=now,
            scenario=scenario,
            track=scenario.entry_track,
            step_anchor=now,
            transitions=1,
            versions=versions,
        )
        return JourneyInput(product="acme", lead_id=lead.id, memory=memory)

    async with build_worker(client, settings, store):
        old = await client.start_workflow(
            "LeadJourney",
            carried({"send-time-optimisation": False}),
            id="journey:acme:old",
            task_queue=settings.task_queue,
        )
        new = await client.start_workflow(
            "LeadJourney", carried({}), id="journey:acme:new", task_queue=settings.task_queue
        )
        assert (await eventually(new, lambda s: s.step_key == "welcome")).send_hour == 11
        assert (await eventually(old, lambda s: s.step_key == "welcome")).send_hour is None
