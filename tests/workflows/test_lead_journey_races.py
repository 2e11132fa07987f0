"""Journeys where handlers and the main loop meet: the bugs a review found, kept fixed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.config import Settings
from nurture.journey.client import give_feedback, start_journey
from nurture.journey.contract import SalesFeedback, Unsubscribe
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.models import Handoff, Lead, Transition
from nurture.worker_setup import build_worker
from tests.helpers.crm import CrmWebhook
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    eventually,
    hand_off,
    make_lead,
    search_attributes_of,
    sends,
    short_history_journey,
    started,
    state,
)
from tests.helpers.scenarios import scenario_copy


async def current_run(client: Client, workflow_id: str) -> str:
    """The latest run id, read raw: `describe()` cannot decode the test server's unset values."""
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return response.workflow_execution_info.execution.run_id


def lead_of(handle_id: str) -> str:
    return handle_id.split(":")[-1]


async def test_a_day_late_rejection_sends_nothing_from_the_old_track(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    await env.sleep(timedelta(days=1, hours=2))  # the warm step would be due by now
    before = [s.send_key for s in sends(store)]
    await give_feedback(client, "acme", lead_of(handle.id), SalesFeedback(outcome="rejected"))
    await env.sleep(timedelta(hours=2))
    assert [s.send_key for s in sends(store)] == before
    st = await state(handle)
    assert st.lifecycle == "recycled" and st.track == "cold"


@pytest.fixture
def refusing_crm(settings: Settings) -> Iterator[CrmWebhook]:
    crm = CrmWebhook(status=422)
    settings.handoff_webhook_url = crm.url
    yield crm
    crm.close()


async def test_a_crm_that_refuses_does_not_block_the_journey(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    refusing_crm: CrmWebhook,
    worker: Worker,
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    st = await eventually(handle, lambda s: any("refused" in e.text for e in s.timeline))
    assert st.lifecycle == "handed_off"
    assert len(refusing_crm.calls) == 1  # 422 is final: not retried
    assert refusing_crm.calls[0][1]["Idempotency-Key"] == f"{handle.id}#1"
    with store.session() as session:
        assert session.scalars(select(Handoff.webhook_status)).one() == "pending"
    await give_feedback(client, "acme", lead_of(handle.id), SalesFeedback(outcome="accepted"))


async def test_unsubscribe_while_sales_owns_the_lead_stops_email_but_keeps_the_journey(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    await handle.signal("unsubscribe", Unsubscribe(reason="one-click"))
    await eventually(handle, lambda s: any("email stopped" in e.text for e in s.timeline))
    await env.sleep(timedelta(days=400))  # past the scenario's maximum age of 365 days
    lead_id = lead_of(handle.id)
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="accepted"))
    st = await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="won"))
    assert st.lifecycle == "customer"
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert send_gate.suppression_reason(session, lead, "acme", "step") == (
            "suppressed (acme email): one-click"
        )


async def test_rejecting_a_lead_that_unsubscribed_ends_the_journey_without_email(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    await handle.signal("unsubscribe", Unsubscribe(reason="one-click"))
    await eventually(handle, lambda s: any("email stopped" in e.text for e in s.timeline))
    sent = len(sends(store))
    await give_feedback(client, "acme", lead_of(handle.id), SalesFeedback(outcome="rejected"))
    result = await handle.result()
    assert result.lifecycle == "unsubscribed"
    assert len(sends(store)) == sent
    with store.session() as session:
        moves = [
            t.to_lifecycle for t in session.scalars(select(Transition).order_by(Transition.seq))
        ]
    assert moves[-2:] == ["recycled", "unsubscribed"]


async def test_re_entering_a_track_already_had_moves_on_to_its_then(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:

    scenario_copy(
        settings, tmp_path, old="  recycle:\n    track: cold", new="  recycle:\n    track: warm"
    )
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        outcome = await start_journey(client, settings, store, make_lead(store), "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        await eventually(handle, lambda s: s.emails_sent == 1)
        await hand_off(env, handle)  # warm by stage: the warm track
        await give_feedback(client, "acme", lead_of(handle.id), SalesFeedback(outcome="rejected"))
        await env.sleep(timedelta(days=10))  # warm's two steps go out, then → cold
        await hand_off(env, handle)
        await give_feedback(client, "acme", lead_of(handle.id), SalesFeedback(outcome="rejected"))
        st = await state(handle)
    # warm was had in full: recycling onto it moves on to its `then` (cold) at once
    assert st.track == "cold" and st.next_touch_at is not None


async def test_next_touch_is_cleared_after_continue_as_new_while_paused(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await short_history_journey(env, client, settings, store)
    assert (await search_attributes_of(client, handle.id))["NextTouchAt"] is not None
    first_run = await current_run(client, handle.id)
    await handle.signal("pause")
    # Every signal is a history event however the worker batches them into tasks, so 120 of
    # them pass the 100-event limit even when all land in a few tasks (cache off, slow worker).
    for i in range(120):
        await handle.signal("resume" if i % 2 else "pause")
    await handle.signal("pause")
    # No query until the next run is there: one in flight across continue-as-new leaves the
    # time-skipping server stuck (docs/tests.md, the cache-off pass).
    for _ in range(400):
        if await current_run(client, handle.id) != first_run:
            break
        await asyncio.sleep(0.05)
    await eventually(handle, lambda s: s.paused)
    await env.sleep(timedelta(hours=1))
    assert await current_run(client, handle.id) != first_run
    assert (await search_attributes_of(client, handle.id)).get("NextTouchAt") is None
