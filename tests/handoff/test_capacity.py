"""The daily hand-off capacity (a small team wants fewer, better leads): leads over
the cap wait in a queue ordered by score, go out as capacity frees up the next day, and go
back to nurturing if their score falls while they wait."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.handoff.capacity import Slot, SlotRequest, leave_queue, request_slot
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult, Unsubscribe
from nurture.store.engine import Store
from nurture.store.models import Handoff, HandoffSlot
from nurture.worker_setup import build_worker
from tests.helpers.crm import CrmWebhook
from tests.helpers.journeys import (
    TOKYO,
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    make_lead,
    state,
    utc,
)
from tests.helpers.scenarios import scenario_copy

DAY = date(2026, 11, 25)


@pytest.fixture
def db(any_store: Store) -> Store:
    return any_store


def ask(store: Store, journey: str, score: int, day: date = DAY, capacity: int = 1) -> Slot:
    return request_slot(store, SlotRequest(journey, 1, "acme", score, day, capacity))


def test_the_queue_goes_by_score_whatever_order_journeys_ask_in(db: Store) -> None:
    assert ask(db, "a", 60).granted  # today's one slot
    assert ask(db, "low", 70).position == 1
    assert ask(db, "high", 90).position == 1  # goes before the lower score
    assert ask(db, "low", 70).position == 2
    tomorrow = DAY + timedelta(days=1)
    assert not ask(db, "low", 70, tomorrow).granted  # asks first, but "high" is ahead
    assert ask(db, "high", 90, tomorrow).granted
    assert ask(db, "high", 90, tomorrow).granted  # a retry keeps its slot, takes no other
    assert ask(db, "low", 70, tomorrow).position == 1  # tomorrow is full now
    assert ask(db, "low", 95, DAY + timedelta(days=2)).granted


def test_leaving_the_queue_moves_the_others_up(db: Store) -> None:
    ask(db, "a", 60)
    ask(db, "b", 80)
    assert ask(db, "c", 70).position == 2
    leave_queue(db, "b", 1)
    assert ask(db, "c", 70).position == 1
    leave_queue(db, "a", 1)  # a granted slot stays used
    assert ask(db, "c", 70).position == 1


def test_concurrent_requests_never_exceed_the_capacity(db: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        slots = list(pool.map(lambda i: ask(db, f"j{i}", 50 + i, capacity=3), range(16)))
    assert sum(s.granted for s in slots) == 3  # without the product lock PostgreSQL gives more
    assert all(s.position >= 1 for s in slots if not s.granted)


@pytest.fixture
def one_a_day(settings: Settings, tmp_path: Path) -> None:
    """The test product, with sales taking one hand-off a day."""
    scenario_copy(settings, tmp_path, old="handoff:\n", new="handoff:\n  daily_capacity: 1\n")


async def hot(env: WorkflowEnvironment, handle: WorkflowHandle, extra: int = 0) -> None:
    for _ in range(3):
        await behave(env, handle, "product_page", url="https://acme.example/product")
    await behave(env, handle, "pricing_page", url="https://acme.example/pricing")
    for _ in range(extra):
        await behave(env, handle, "webinar_attended")


def waiting_places(store: Store) -> list[HandoffSlot]:
    with store.session() as session:
        return list(session.scalars(select(HandoffSlot).where(HandoffSlot.granted_day.is_(None))))


async def queued_second(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, extra: int = 0
) -> tuple[WorkflowHandle, WorkflowHandle]:
    """Two journeys on a 1-a-day product: the first handed off, the second waiting (with
    `extra` webinars on top of its hot behaviour)."""
    handles = []
    for name in ("aiko", "ken"):
        outcome = await start_journey(
            client, settings, store, make_lead(store, email=f"{name}@example.com"), "acme"
        )
        handles.append(client.get_workflow_handle(outcome.journey_id))
    first, second = handles
    await hot(env, first)
    await eventually(first, lambda s: s.lifecycle == "handed_off")
    await hot(env, second, extra)
    await eventually(second, lambda s: s.handoff_queue_position == 1)
    return first, second


@pytest.mark.usefixtures("one_a_day")
async def test_leads_over_the_daily_capacity_wait_by_score_and_go_the_next_days(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)

    async def journey(name: str) -> WorkflowHandle:
        lead = make_lead(store, email=f"{name}@example.com")
        outcome = await start_journey(client, settings, store, lead, "acme")
        return client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)

    async with build_worker(client, settings, store):
        first, second, third = [await journey(n) for n in ("aiko", "ken", "mia")]
        await hot(env, first)
        await eventually(first, lambda s: s.lifecycle == "handed_off")
        await hot(env, third)
        st = await eventually(third, lambda s: s.handoff_queue_position == 1)
        assert st.lifecycle == "mql" and st.emails_sent == 1  # no nurture email while queued
        await hot(env, second, extra=1)  # a higher score: goes before the third
        await eventually(second, lambda s: s.handoff_queue_position == 1)  # ahead of the third
        assert len(crm.calls) == 1

        await env.sleep(timedelta(days=1))
        await eventually(second, lambda s: s.lifecycle == "handed_off")
        st = await state(third)  # its place as of its last check (00:01, or its last event)
        assert st.lifecycle == "mql" and st.handoff_queue_position is not None
        await env.sleep(timedelta(days=1))
        st = await eventually(third, lambda s: s.lifecycle == "handed_off")

    emails = [json.loads(body)["lead"]["email"] for body, _ in crm.calls]
    assert emails == ["aiko@example.com", "ken@example.com", "mia@example.com"]
    timeline = [e.text for e in st.timeline if e.kind == "handoff"]
    assert "waiting for sales capacity (1/day): #1 in the queue" in timeline


@pytest.mark.usefixtures("one_a_day")
async def test_a_lead_whose_score_falls_while_it_waits_goes_back_to_nurturing(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        _, second = await queued_second(env, client, settings, store)
        for _ in range(3):  # browsing the careers page: probably not a buyer
            await behave(env, second, "careers_page")
        st = await eventually(second, lambda s: s.lifecycle == "nurturing")
        assert st.handoff_queue_position is None and st.score.total < 50
        await env.sleep(timedelta(days=2))
        assert (await state(second)).lifecycle == "nurturing"
    assert len(crm.calls) == 1


def test_a_place_nobody_asks_for_any_more_stops_holding_the_line(db: Store) -> None:
    assert ask(db, "a", 60).granted
    assert ask(db, "gone", 99).position == 1  # its journey is terminated and never asks again
    assert ask(db, "later", 70).position == 2
    assert not ask(db, "later", 70, DAY + timedelta(days=1)).granted  # "gone" asked yesterday
    assert ask(db, "later", 70, DAY + timedelta(days=2)).granted


@pytest.mark.usefixtures("one_a_day")
async def test_a_lead_that_unsubscribes_while_it_waits_leaves_the_queue_and_ends(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        _, second = await queued_second(env, client, settings, store)
        await second.signal("unsubscribe", Unsubscribe(reason="one-click"))
        # The journey ends, then leaves the queue (a local activity) before it closes: wait
        # for both, a query may land in between.
        st = await eventually(
            second, lambda s: s.ended_reason is not None and s.handoff_queue_position is None
        )
        assert st.lifecycle == "unsubscribed"
    with store.session() as session:
        assert (
            session.scalars(select(HandoffSlot).where(HandoffSlot.granted_day.is_(None))).all()
            == []
        )
    assert len(crm.calls) == 1  # never handed to sales


@pytest.mark.usefixtures("one_a_day")
async def test_a_lead_whose_journey_ends_while_it_waits_frees_its_place(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        _, buyer = await queued_second(env, client, settings, store, extra=2)
        await behave(env, buyer, "purchase")  # the exit rule, while it waits
        await eventually(buyer, lambda s: s.ended_reason is not None)
        await env.sleep(timedelta(days=1))
        outcome = await start_journey(
            client, settings, store, make_lead(store, email="mia@example.com"), "acme"
        )
        later = client.get_workflow_handle(outcome.journey_id)
        await hot(env, later)
        await eventually(later, lambda s: s.lifecycle == "handed_off")  # nobody live ahead


def test_a_granted_slot_that_was_not_used_goes_back(db: Store) -> None:
    assert ask(db, "a", 60).granted
    leave_queue(db, "a", 1, release=True)  # it unsubscribed while the slot was granted
    assert ask(db, "b", 50).granted


@pytest.mark.usefixtures("one_a_day")
async def test_a_lead_that_reaches_its_maximum_age_while_it_waits_ends(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
) -> None:
    yaml = settings.scenarios_dir / "acme" / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace("  after: 365d", "  after: 12h"))
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        _, second = await queued_second(env, client, settings, store)
        await env.sleep(timedelta(days=1))
        st = await eventually(second, lambda s: s.ended_reason is not None)
        assert "maximum age" in (st.ended_reason or "")
    assert len(crm.calls) == 1  # the old lead was never handed off
    with store.session() as session:
        assert (
            session.scalars(select(HandoffSlot).where(HandoffSlot.granted_day.is_(None))).all()
            == []
        )


@pytest.mark.usefixtures("one_a_day")
async def test_capacity_is_spent_on_business_days_in_the_send_window(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    crm: CrmWebhook,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 4)  # Friday: today's one slot goes to the first
    async with build_worker(client, settings, store):
        _, second = await queued_second(env, client, settings, store)
        await env.sleep(timedelta(days=2))  # Saturday and Sunday: nobody is handed off
        assert (await state(second)).lifecycle == "mql"
        await env.sleep(timedelta(days=1))
        await eventually(second, lambda s: s.lifecycle == "handed_off")
    with store.session() as session:
        handoffs = list(session.scalars(select(Handoff).order_by(Handoff.id)))
    monday = utc(handoffs[1].journey_time).astimezone(TOKYO)
    assert (monday.strftime("%a"), monday.hour) == ("Mon", 9)  # when the window opens
