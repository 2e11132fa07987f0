"""A lead whose journey closed is nurtured again by a new run that carries its history."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1.workflow_pb2 import WORKFLOW_EXECUTION_STATUS_COMPLETED
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import give_feedback, latest_run, start_journey
from nurture.journey.contract import JourneyState, SalesFeedback
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import Store
from nurture.store.models import Event, Journey, Lead, Send, Transition
from nurture.worker_setup import build_worker
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    hand_off,
    make_lead,
    rows,
    sends,
    started,
    state,
)
from tests.helpers.scenarios import scenario_copy

SHORT = "exit:\n  after: 45d"


async def closed(
    env: WorkflowEnvironment, client: Client, handle: WorkflowHandle, days: int = 0
) -> JourneyState:
    """The journey's state once it has completed (`days` on, or now)."""
    await env.sleep(timedelta(days=days))
    st = await eventually(handle, lambda s: s.ended_reason is not None)
    for _ in range(100):
        run = await latest_run(client, handle.id)
        if run is not None and run.status == WORKFLOW_EXECUTION_STATUS_COMPLETED:
            return st
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} did not complete")


def logged(store: Store, handle: WorkflowHandle, event: BehaviorEvent) -> None:
    """The event in the store's log, as the API keeps every event it accepts."""
    with store.session() as session:
        session.add(
            Event(event_id=event.event_id, lead_id=handle.id.split(":")[-1], type=event.type,
                  product="acme", properties={}, occurred_at=event.occurred_at)
        )  # fmt: skip


def lead_of(store: Store, handle: WorkflowHandle) -> Lead:
    lead = store.get_lead(handle.id.split(":")[-1])
    assert lead is not None
    return lead


async def test_a_closed_journey_restarts_with_its_history_and_sends_nothing_twice(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path, old="exit:\n  after: 365d", new=SHORT)
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store, industry="retail")  # no fit
        download = await behave(env, handle, "document_download")  # scores; fires its trigger
        logged(store, handle, download)
        await env.sleep(timedelta(days=31))  # the guide goes out on day 30
        first = await state(handle)
        ended = await closed(env, client, handle, days=15)  # its maximum age, 45 days
        again = await start_journey(client, settings, store, lead_of(store, handle), "acme")
        restarted = client.get_workflow_handle(handle.id)
        await env.sleep(timedelta(days=31))  # the next step is due 30 days on
        st = await eventually(restarted, lambda s: s.emails_sent > first.emails_sent)
        await behave(env, restarted, "document_download")
        later = await eventually(restarted, lambda s: s.emails_sent > st.emails_sent)
    assert first.emails_sent == 3 and "maximum age" in (ended.ended_reason or "")
    assert again.started and again.message == "journey restarted: its earlier run had closed"
    note = next(e.text for e in st.timeline if e.text.startswith("journey restarted"))
    assert "closed (nurturing)" in note and "1 events, 3 emails" in note
    assert st.score.total > 0  # the download still counts
    keys = [s.send_key for s in sends(store)]
    assert keys == [
        "cold#1/welcome", "trigger:download-followup#1", "cold#1/guide",
        "cold#2/benchmark",  # the next step it had not had, not the welcome again
        "trigger:download-followup#2",  # counted on: the first one's row is kept
    ]  # fmt: skip
    assert later.emails_sent == 5


async def test_a_journey_temporal_forgot_restarts_from_the_store(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    """Past Temporal's retention only the store knows the journey: a lost deal, two
    lifecycle moves and its welcome email. The new run numbers on and sends no welcome."""
    lead = make_lead(store)
    workflow_id = f"journey:acme:{lead.id}"
    at = await env.get_current_time()
    with store.session() as session:
        session.add(Journey(workflow_id=workflow_id, lead_id=lead.id, product="acme",
                            confirmed_at=at))  # fmt: skip
        for seq, (before, to) in enumerate([(None, "nurturing"), ("nurturing", "lost")], 1):
            session.add(Transition(journey_id=workflow_id, seq=seq, lead_id=lead.id,
                                   product="acme", from_lifecycle=before, to_lifecycle=to,
                                   stage="cold", score=0, actor="journey", reason="",
                                   journey_time=at))  # fmt: skip
        welcome = Send(
            id="sd_restart", journey_id=workflow_id, send_key="cold#1/welcome", lead_id=lead.id,
            product="acme", mail_type="step", template="note", subject="Welcome",
            provider="outbox", status="sent", journey_time=at,
        )  # fmt: skip
        session.add(welcome)
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        again = await start_journey(client, settings, store, lead, "acme")
        st = await eventually(
            client.get_workflow_handle(workflow_id), lambda s: s.lifecycle == "nurturing"
        )
    assert again.started
    assert st.timeline[0].text.startswith("journey restarted: its earlier run closed (lost)")
    assert st.step_key == "guide" and st.emails_sent == 1  # the welcome is not sent again
    moves = [(t.seq, t.from_lifecycle, t.to_lifecycle) for t in rows(store, Transition)]
    assert moves == [(1, None, "nurturing"), (2, "nurturing", "lost"), (3, "lost", "nurturing")]


async def test_a_running_journey_is_not_started_again_nor_a_customers(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    async with build_worker(client, settings, store):
        handle = await started(env, client, settings, store)
        running = await start_journey(client, settings, store, lead_of(store, handle), "acme")
        await hand_off(env, handle)
        lead_id = handle.id.split(":")[-1]
        for outcome in ("accepted", "won"):
            await give_feedback(client, "acme", lead_id, SalesFeedback(outcome=outcome))
        await closed(env, client, handle)
        customer = await start_journey(client, settings, store, lead_of(store, handle), "acme")
    assert not running.started and running.message == "journey already exists; nothing started"
    assert not customer.started
    assert customer.message.startswith("not started: its journey closed with the lead customer")


async def test_a_restart_on_a_new_version_sends_the_new_step_and_none_it_had(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    """The version the restart runs put a step before those the lead had: it gets that one,
    then the first it never had, not the ones after the new step that it had already."""
    intro = "steps:\n      - {key: intro, wait: 0d, template: note, subject: Intro}\n"
    scenario_copy(settings, tmp_path, old="steps:\n", new=intro)
    lead = make_lead(store)
    workflow_id = forgotten_journey(store, lead, ["cold#1/welcome", "cold#1/guide"],
                                    at=await env.get_current_time())  # fmt: skip
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        assert (await start_journey(client, settings, store, lead, "acme")).started
        handle = client.get_workflow_handle(workflow_id)
        await eventually(handle, lambda s: s.emails_sent == 3)  # two carried, then the intro
        await env.sleep(timedelta(days=31))
        await eventually(handle, lambda s: s.emails_sent == 4)
    assert [s.send_key for s in sends(store)][2:] == ["cold#2/intro", "cold#2/benchmark"]


def forgotten_journey(store: Store, lead: Lead, keys: list[str], at: datetime) -> str:
    """A journey only the store remembers: started, nurturing, these emails sent."""
    workflow_id = f"journey:acme:{lead.id}"
    with store.session() as session:
        session.add(Journey(workflow_id=workflow_id, lead_id=lead.id, product="acme",
                            confirmed_at=at))  # fmt: skip
        session.add(Transition(journey_id=workflow_id, seq=1, lead_id=lead.id, product="acme",
                               to_lifecycle="nurturing", stage="cold", score=0,
                               actor="journey", reason="", journey_time=at))  # fmt: skip
        for i, key in enumerate(keys):
            session.add(Send(
                id=f"sd_{i}", journey_id=workflow_id, send_key=key, lead_id=lead.id,
                product="acme", mail_type="step", template="note", subject=key,
                provider="outbox", status="delivered", journey_time=at,
            ))  # fmt: skip
    return workflow_id
