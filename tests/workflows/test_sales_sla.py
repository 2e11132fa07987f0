"""Sales' side of a hand-off on the time-skipping server: the owner's email, the feedback
SLA (reminder, escalation, counted in business days), and leads sales created itself (SGL)."""

from __future__ import annotations

import email
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.config import Settings
from nurture.journey.client import give_feedback, start_journey
from nurture.journey.contract import JourneyResult, JourneyState, SalesFeedback
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events
from nurture.store.models import Handoff, Send, Transition
from nurture.worker_setup import build_worker
from tests.helpers.api import LEAD, Api
from tests.helpers.history_text import decoded_history
from tests.helpers.journeys import (
    TOKYO,
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    hand_off,
    make_lead,
    near,
    rows,
    started,
    state,
    utc,
)
from tests.helpers.scenarios import scenario_copy

OWNER = "sales@acme.example"
BOSS = "head-of-sales@acme.example"
SLA = f"  owner: {OWNER}\n  sla: {{business_days: 2, escalate_to: {BOSS}}}\n  recycle:\n"


@pytest_asyncio.fixture
async def sla_worker(
    client: Client, settings: Settings, store: Store, tmp_path: Path
) -> AsyncIterator[Worker]:
    """acme with an owner and a 2-business-day SLA (Mon–Fri in Tokyo), escalating."""
    scenario_copy(settings, tmp_path / "scenarios", old="  recycle:\n", new=SLA)
    async with build_worker(client, settings, store) as worker:
        yield worker


def noted(st: JourneyState, text: str) -> bool:
    return any(text in e.text for e in st.timeline)


def sales_sends(store: Store) -> dict[str, Send]:
    return {s.send_key: s for s in rows(store, Send) if s.mail_type == "sales"}


def read_eml(settings: Settings, send: Send) -> EmailMessage:
    raw = (settings.outbox_dir / "acme" / f"{send.id}.eml").read_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def summaries(handle: WorkflowHandle, event_type: EventType.ValueType) -> list[str]:
    history = await handle.fetch_history()
    return [
        json.loads(e.user_metadata.summary.data)
        for e in history.events
        if e.event_type == event_type and e.user_metadata.summary.data
    ]


async def hand_off_on_friday(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> tuple[WorkflowHandle, datetime]:
    handle = await started(env, client, settings, store)  # Wednesday noon, Tokyo
    friday = await advance_to_weekday_noon_tokyo(env, 4)
    await hand_off(env, handle)
    return handle, friday


async def test_the_owner_gets_the_handoff_by_email_and_the_history_no_personal_data(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, sla_worker: Worker
) -> None:
    handle = await started(
        env,
        client,
        settings,
        store,
        first_name="Aiko",
        last_name="Sato",
        email="aiko.sato@example.com",
        company="Example KK",
        title="CFO",
    )
    await behave(env, handle, "document_download", document="expense-guide")
    [welcome] = [s for s in rows(store, Send) if s.mail_type == "step"]
    click = BehaviorEvent(
        event_id="click-1",
        type="email_click",
        occurred_at=await env.get_current_time(),
        properties={"send_id": welcome.id},
    )
    record_events(store, [LoggedEvent(click, lead_id=welcome.lead_id)], deliver=False)
    await hand_off(env, handle)
    await eventually(handle, lambda s: noted(s, "emailed hand-off #1 to the owner"))

    sent = sales_sends(store)
    assert list(sent) == ["sales:handoff#1"]
    row = sent["sales:handoff#1"]
    assert row.status == "sent" and row.template == "sales-handoff"
    message = read_eml(settings, row)
    assert message["To"].addresses[0].addr_spec == OWNER
    assert "Aiko Sato" in message["Subject"] and "List-Unsubscribe" not in message
    text = body_text(message)
    score = rows(store, Handoff)[0].score
    for expected in (
        "Aiko Sato",
        "CFO",
        "Example KK",
        "aiko.sato@example.com",
        f"Total {score} = fit 15",
        "pricing_page 1× this week",
        "expense-guide",
        "product page 3+ times in 14 days",
        f"/workflows/{handle.id}",
        "clicked: Welcome, Aiko",
    ):
        assert expected in text, (expected, text)
    # The sales email counts as no email to the lead, and nothing about the lead leaked.
    st = await state(handle)
    assert st.emails_sent == len([s for s in rows(store, Send) if s.mail_type != "sales"])
    activities = await summaries(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    assert "email hand-off #1 to the owner" in activities
    history = decoded_history(await handle.fetch_history())
    for personal in ("aiko.sato@example.com", "Sato", "Example KK", "CFO"):
        assert personal not in history, f"{personal!r} leaked into the journey history"


async def test_no_feedback_reminds_after_two_business_days_then_escalates(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, sla_worker: Worker
) -> None:
    handle, friday = await hand_off_on_friday(env, client, settings, store)
    await env.sleep(friday + timedelta(days=3, hours=1) - await env.get_current_time())  # Mon
    assert list(sales_sends(store)) == ["sales:handoff#1"]  # the weekend does not count

    await env.sleep(timedelta(days=1))  # Tuesday 13:00: two business days have passed
    st = await eventually(handle, lambda s: noted(s, "reminding"))
    reminder = sales_sends(store)["sales:remind#1"]
    assert near(reminder.journey_time, friday + timedelta(days=4))  # Tuesday 12:00 Tokyo
    assert utc(reminder.journey_time).astimezone(TOKYO).strftime("%a %H:%M") == "Tue 12:00"
    assert read_eml(settings, reminder)["To"].addresses[0].addr_spec == OWNER
    assert "no sales feedback for 2 business days" in body_text(read_eml(settings, reminder))
    assert "SLA: no sales feedback 2 business days after hand-off #1; reminding the owner" in [
        e.text for e in st.timeline
    ]

    await env.sleep(timedelta(days=2))  # Thursday 13:00: two more business days
    await eventually(handle, lambda s: noted(s, "escalated hand-off #1"))
    escalation = sales_sends(store)["sales:escalate#1"]
    assert utc(escalation.journey_time).astimezone(TOKYO).strftime("%a %H:%M") == "Thu 12:00"
    message = read_eml(settings, escalation)
    assert message["To"].addresses[0].addr_spec == BOSS
    assert "Escalation" in message["Subject"] and "4 business days" in body_text(message)

    await env.sleep(timedelta(days=20))  # once per hand-off each: nothing more
    assert list(sales_sends(store)) == ["sales:handoff#1", "sales:remind#1", "sales:escalate#1"]
    timers = await summaries(handle, EventType.EVENT_TYPE_TIMER_STARTED)
    reminder_at = f"{utc(reminder.journey_time):%Y-%m-%d %H:%M}"
    assert f"wait for sales feedback until {reminder_at} UTC (SLA) → remind the owner" in timers
    assert any(t.endswith("(SLA) → escalate") for t in timers), timers
    activities = await summaries(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    assert "remind the owner of hand-off #1: no sales feedback for 2 business days (SLA)" in (
        activities
    )


async def test_feedback_in_time_cancels_the_reminder(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, sla_worker: Worker
) -> None:
    handle, _ = await hand_off_on_friday(env, client, settings, store)
    await env.sleep(timedelta(days=3))  # Monday
    lead_id = handle.id.split(":")[-1]
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="accepted", by="kato"))
    await env.sleep(timedelta(days=14))
    assert list(sales_sends(store)) == ["sales:handoff#1"]
    assert (await state(handle)).lifecycle == "sal"


async def test_a_second_handoff_gets_its_own_email_and_sla(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, sla_worker: Worker
) -> None:
    handle, _ = await hand_off_on_friday(env, client, settings, store)
    lead_id = handle.id.split(":")[-1]
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="rejected"))
    await env.sleep(timedelta(days=30))
    await hand_off(env, handle)
    await env.sleep(timedelta(days=7))  # a week: two business days have passed whatever the day
    assert {"sales:handoff#2", "sales:remind#2"} <= set(sales_sends(store))


async def test_a_sales_generated_lead_starts_in_sql_and_is_never_nurtured(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    lead = make_lead(store)
    outcome = await start_journey(client, settings, store, lead, "acme", origin="sales")
    handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
    st = await eventually(handle, lambda s: s.lifecycle == "sql")
    assert any("sales-generated lead (SGL)" in e.text for e in st.timeline)
    for _ in range(3):
        await behave(env, handle, "product_page")
    await behave(env, handle, "pricing_page")  # hot: a marketing lead would be handed off
    await behave(env, handle, "document_download")  # a marketing lead would get a trigger
    await eventually(handle, lambda s: s.stage == "hot")
    await env.sleep(timedelta(days=60))
    st = await state(handle)
    assert st.lifecycle == "sql" and st.emails_sent == 0
    assert rows(store, Send) == []
    transitions = rows(store, Transition)
    assert [(t.from_lifecycle, t.to_lifecycle, t.actor, t.reason) for t in transitions] == [
        (None, "sql", "sales", "sales-generated lead (SGL)")
    ]
    st = await give_feedback(client, "acme", lead.id, SalesFeedback(outcome="opportunity"))
    assert st.lifecycle == "opportunity"


async def test_sales_can_hand_a_sales_generated_lead_to_nurturing(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    lead = make_lead(store)
    outcome = await start_journey(client, settings, store, lead, "acme", origin="sales")
    handle = client.get_workflow_handle(outcome.journey_id)
    await eventually(handle, lambda s: s.lifecycle == "sql")
    st = await give_feedback(client, "acme", lead.id, SalesFeedback(outcome="rejected"))
    assert st.lifecycle == "recycled"
    st = await eventually(handle, lambda s: s.emails_sent == 1)
    assert [s.send_key for s in rows(store, Send)] == ["cold#2/welcome"]


async def test_the_api_registers_a_sales_generated_lead(
    env: WorkflowEnvironment, client: Client, api: Api, worker: Worker
) -> None:
    sgl = {**LEAD, "origin": "sales"}
    created = await api.http.post("/v1/leads", json=sgl, headers=api.leads)
    assert created.status_code == 200, created.text
    lead_id = created.json()["lead_id"]
    await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"), lambda s: s.lifecycle == "sql"
    )
    wrong = await api.http.post("/v1/leads", json={**LEAD, "origin": "crm"}, headers=api.leads)
    assert wrong.status_code == 422 and "origin" in wrong.text


TEAM = "  owners: {team: [kato@acme.example, mori@acme.example]}\n  sla: {business_days: 2}\n"


async def test_a_team_takes_hand_offs_in_turn_and_each_owner_gets_its_own_reminder(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path / "scenarios", old="  recycle:\n", new=TEAM + "  recycle:\n")
    async with build_worker(client, settings, store):
        first = await started(env, client, settings, store, email="a@example.com")
        second = await started(env, client, settings, store, email="b@example.com")
        for handle in (first, second):
            await hand_off(env, handle)
            await eventually(handle, lambda s: noted(s, "emailed hand-off #1 to the owner"))
        await env.sleep(timedelta(days=7))  # two business days, whatever the day
        for handle in (first, second):
            await eventually(handle, lambda s: noted(s, "reminded the owner"))
    to = {
        (s.journey_id, s.send_key): read_eml(settings, s)["To"].addresses[0].addr_spec
        for s in rows(store, Send)
        if s.mail_type == "sales"
    }
    assert to == {
        (first.id, "sales:handoff#1"): "kato@acme.example",
        (first.id, "sales:remind#1"): "kato@acme.example",
        (second.id, "sales:handoff#1"): "mori@acme.example",
        (second.id, "sales:remind#1"): "mori@acme.example",
    }
    owners = {h.journey_id: h.payload["owner"] for h in rows(store, Handoff)}
    assert owners == {first.id: "kato@acme.example", second.id: "mori@acme.example"}
