"""The LeadJourney contract operators rely on: ids, search attributes, summaries, no PII."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.config import Settings
from nurture.journey import search_attributes as sa
from nurture.journey.client import journey_id
from nurture.store.engine import Store
from tests.helpers.journeys import behave, eventually, hand_off, search_attributes_of, started


def test_journey_id_refuses_email_addresses() -> None:
    assert journey_id("acme", "ld_123") == "journey:acme:ld_123"
    with pytest.raises(ValueError, match="never an email address"):
        journey_id("acme", "aiko@example.com")


async def test_operators_see_search_attributes_summaries_and_a_card_but_no_personal_data(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
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
    )
    await hand_off(env, handle)

    attrs = await search_attributes_of(client, handle.id)
    assert attrs[sa.PRODUCT.name] == "acme"
    assert attrs[sa.STAGE.name] == "hot"
    assert attrs[sa.LIFECYCLE.name] == "handed_off"
    assert attrs[sa.TRACK.name] == "warm"
    score = attrs[sa.SCORE.name]
    assert isinstance(score, int) and score >= 50
    assert attrs[sa.SCENARIO_VERSION.name]
    assert attrs.get(sa.NEXT_TOUCH.name) is None  # sales owns the lead: no nurture email planned

    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    card = metadata.current_details
    assert "stage **hot**" in card and "lifecycle **handed_off**" in card

    history = await handle.fetch_history()
    activity_events = (  # local activities are recorded as markers
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_MARKER_RECORDED,
    )
    for event in history.events:
        if event.marker_recorded_event_attributes.marker_name == "core_patch":
            continue  # a workflow.patched() marker: the SDK's, it takes no summary
        if event.event_type in (*activity_events, EventType.EVENT_TYPE_TIMER_STARTED):
            summary = event.user_metadata.summary.data.decode()
            assert summary.strip('"'), f"no summary on {event.event_type}"
    timers = [
        json.loads(e.user_metadata.summary.data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    activities = [
        json.loads(e.user_metadata.summary.data)
        for e in history.events
        if e.event_type in activity_events
        and e.marker_recorded_event_attributes.marker_name != "core_patch"
    ]
    assert "wait 30d → step 2/7 'guide'" in timers
    assert activities[:4] == [
        "load scenario 'acme'",
        "record start → nurturing",
        "send step 1/7 'welcome' on cold",
        "record stage start → cold",  # beside the journey, for the funnel report
    ]
    assert any(a.startswith("hand off to sales (score ") for a in activities)

    text = history.to_json()
    for personal in ("aiko.sato@example.com", "Sato", "Example KK"):
        assert personal not in text, f"{personal!r} leaked into the journey history"


async def test_decay_moves_the_stage_without_new_behaviour(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)  # fit 15
    await behave(env, handle, "document_download")  # +10 → warm (threshold 25)
    await eventually(handle, lambda s: s.stage == "warm")
    await env.sleep(timedelta(days=4))
    assert (await search_attributes_of(client, handle.id))[sa.STAGE.name] == "warm"
    await env.sleep(timedelta(days=1))  # 10 points at a 60-day half-life fall below 9.5 on day 4.4
    attrs = await search_attributes_of(client, handle.id)
    assert attrs[sa.STAGE.name] == "cold" and attrs[sa.SCORE.name] == 24
    history = await handle.fetch_history()
    timers = [
        json.loads(e.user_metadata.summary.data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    # Woken once, exactly when the score crosses the threshold (4.4 days after the download).
    assert "wait 3d10h34m → score decays out of warm" in timers, timers
