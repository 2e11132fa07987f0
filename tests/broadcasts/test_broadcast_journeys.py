"""A broadcast on the time-skipping server: through each lead's running journey (the cap
holds it back, a suppression skips it with the reason, the timeline says so), through a
short-lived journey for a lead without one, and never twice when handed over again."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

import activities.broadcasts as broadcast_activities
from activities.broadcasts import BroadcastActivities
from nurture.broadcasts.client import schedule_broadcast
from nurture.broadcasts.content import freeze_content
from nurture.broadcasts.contract import (
    BroadcastAnswer,
    BroadcastDelivery,
    BroadcastProgress,
    HandOverInput,
    Variant,
)
from nurture.broadcasts.records import broadcast_status, create_broadcast, freeze_recipients
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyInput, JourneyResult, Unsubscribe, journey_id
from nurture.journey.transitions import record_transition
from nurture.segments.membership import segment_book
from nurture.store.engine import Store
from nurture.store.models import BroadcastRecipient, Send
from nurture.worker_setup import build_worker
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead, state
from tests.helpers.scenarios import scenario_copy

SEGMENT = "segments:\n  everyone:\n    lead: {industry: [saas]}\n"


def broadcast(settings: Settings, store: Store, tmp_path: Path) -> None:
    scenario_copy(settings, tmp_path)
    (settings.scenarios_dir / "segments.yaml").write_text(SEGMENT, encoding="utf-8")
    content = freeze_content(
        settings.scenarios_dir, "acme", [Variant(subject="Join our seminar", template="note")]
    )
    create_broadcast(
        store,
        broadcast_id="seminar",
        product="acme",
        segment="everyone",
        content=content,
        send_at=None,
        local_time=False,
        mail_type="newsletter",
        by="test",
    )


async def all_tried(store: Store, count: int) -> dict[str, Send]:
    """The broadcast's send rows, once `count` leads' journeys have tried it (bounded)."""
    for _ in range(200):
        found = broadcast_sends(store)
        if len(found) == count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(found)} of {count} leads' journeys tried the broadcast")


def broadcast_sends(store: Store) -> dict[str, Send]:
    with store.session() as session:
        found = session.scalars(select(Send).where(Send.send_key == "broadcast:seminar"))
        return {send.lead_id: send for send in found}


async def test_a_broadcast_goes_through_each_gate_once(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    broadcast(settings, store, tmp_path)
    settings.frequency_cap_per_week = 1
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        capped = make_lead(store, email="capped@example.com")
        opted_out = make_lead(store, email="optout@example.com")
        no_journey = make_lead(store, email="fresh@example.com")
        make_lead(store, email="other@example.com", industry="retail")  # not in the segment
        handles = {}
        for lead in (capped, opted_out):
            outcome = await start_journey(client, settings, store, lead, "acme")
            handles[lead.id] = client.get_workflow_handle(
                outcome.journey_id, result_type=JourneyResult
            )
            await eventually(handles[lead.id], lambda s: s.emails_sent == 1)  # the welcome
        await handles[opted_out.id].signal(
            "unsubscribe", Unsubscribe(mail_types=["newsletter"], reason="newsletter opt-out")
        )
        await eventually(handles[opted_out.id], lambda s: s.suppressed_mail_types == ["newsletter"])

        assert await schedule_broadcast(client, settings, store, "seminar") == 3
        progress = await client.get_workflow_handle(
            "broadcast:seminar", result_type=BroadcastProgress
        ).result()
        assert (progress.state, progress.recipients, progress.handed) == ("finished", 3, 3)
        assert (progress.to_journeys, progress.to_broadcast_journeys) == (2, 1)

        # the lead without a journey: sent by its broadcast journey, within the window
        short = client.get_workflow_handle(f"broadcast-journey:seminar:{no_journey.id}")
        assert (await short.result())["status"] == "sent"
        sends = await all_tried(store, 3)  # the journeys send it in their own time
        # the opted-out lead: not sent, the reason recorded
        assert sends[opted_out.id].status == "suppressed"
        assert "newsletter" in (sends[opted_out.id].detail or "")
        # the capped lead: held back a week by the cap, then sent, as its timeline says
        assert sends[capped.id].status == "deferred"
        await env.sleep(timedelta(days=8))
        st = await eventually(handles[capped.id], lambda s: s.emails_sent == 2)
        said = [e.text for e in st.timeline if e.kind in ("broadcast", "email")]
        assert any("broadcast 'seminar' to go at" in t for t in said), said
        assert any(t.startswith("deferred broadcast 'seminar'") for t in said), said
        assert any(t == "sent broadcast 'seminar'" for t in said), said
        assert broadcast_sends(store)[capped.id].status == "sent"

        # handed over again, as after a worker killed before it recorded: nothing twice
        with store.session() as session:
            session.execute(update(BroadcastRecipient).values(outcome=None))
        again = await ActivityEnvironment().run(
            BroadcastActivities(client, store, settings).hand_over,
            HandOverInput(broadcast_id="seminar", from_seq=1, to_seq=3),
        )
        # the journeys answer the repeated update as the first time (same update id), and
        # the broadcast journey is not started again
        assert again.counts == {"journey": 2, "broadcast_journey": 1}
        await env.sleep(timedelta(days=1))
        assert (await state(handles[capped.id])).emails_sent == 2
        status = broadcast_status(store, "seminar")
        assert status.sends == {"sent": 2, "suppressed": 1}
        assert len(broadcast_sends(store)) == 3


async def test_a_lead_sales_closed_is_skipped_and_one_stuck_journey_does_not_hold_the_rest(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broadcast(settings, store, tmp_path)
    closed = make_lead(store, email="closed@example.com")
    stuck = make_lead(store, email="stuck@example.com")
    record_transition(
        store, journey_id=journey_id("acme", closed.id), seq=1, lead_id=closed.id,
        product="acme", from_lifecycle=None, to_lifecycle="sql", stage="hot", score=90,
        actor="sales", reason="test", journey_time=await env.get_current_time(),
    )  # fmt: skip
    # a journey no worker runs: it never answers the update
    await client.start_workflow(
        "LeadJourney",
        JourneyInput(product="acme", lead_id=stuck.id),
        id=journey_id("acme", stuck.id),
        task_queue="nobody-polls-this",
    )
    book = segment_book(settings.scenarios_dir, store)
    assert freeze_recipients(store, "seminar", book, await env.get_current_time()) == 2
    monkeypatch.setattr(broadcast_activities, "ANSWER_WITHIN", 0.5)
    hands = BroadcastActivities(client, store, settings)
    batch = HandOverInput(broadcast_id="seminar", from_seq=1, to_seq=2)
    with pytest.raises(ApplicationError, match="could not take the broadcast yet"):
        await ActivityEnvironment().run(hands.hand_over, batch)
    last_try = ActivityEnvironment()
    last_try.info = dataclasses.replace(last_try.info, attempt=broadcast_activities.HAND_ATTEMPTS)
    result = await last_try.run(hands.hand_over, batch)
    assert result.counts == {"skipped": 1, "failed": 1}
    status = broadcast_status(store, "seminar")
    assert "skipped: its journey closed with the lead sql" in status.reasons
    assert any(r.startswith("failed: not taken after 5 attempts") for r in status.reasons)


async def test_a_broadcast_handed_over_after_its_expiry_is_not_sent(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        lead = make_lead(store)
        outcome = await start_journey(client, settings, store, lead, "acme")
        handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
        await eventually(handle, lambda s: s.emails_sent == 1)
        late = BroadcastDelivery(
            broadcast_id="old",
            variants=[Variant(subject="Hi", template="note")],
            send_at=await env.get_current_time() - timedelta(days=11),
        )
        answer = await handle.execute_update("broadcast", late, result_type=BroadcastAnswer)
        assert (answer.outcome, answer.detail) == ("skipped", "expired (10d after its time)")
        again = await handle.execute_update(
            "broadcast", late, id="other", result_type=BroadcastAnswer
        )
        assert again.outcome == "already"  # a journey has each broadcast once
