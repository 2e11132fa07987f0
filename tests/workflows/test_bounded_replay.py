"""A busy lead's journey stays cheap to replay (patch bounded-replay): a worker that lost
it from its cache (a restart, a deploy) must replay its run well inside the 10 s workflow
task timeout, or the journey times out for good. Each run carries a bounded number of
events for scoring and ends at REPLAY_HISTORY_LIMIT history events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from nurture.config import Settings
from nurture.journey.contract import JourneyState
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import Store
from tests.helpers.journeys import eventually, next_run, started, state
from workflows.lead_journey import (
    EVENTS_PRUNED_AT,
    INBOX_SLICE,
    REPLAY_HISTORY_LIMIT,
    SLICE_PAUSE,
    LeadJourney,
)

EVENTS_KEPT = 300  # what nurture.scoring.score.prune_events keeps at most
DAY = timedelta(days=1)


def page_views(count: int, end: datetime, tag: str) -> list[BehaviorEvent]:
    """One page view a day for `count` days up to `end`, oldest first (the daily cap of 3
    lets each count, and all are inside the 60-day half-life's horizon)."""
    return [
        BehaviorEvent(
            event_id=f"{tag}-{day}", type="page_view", occurred_at=end - timedelta(days=count - day)
        )
        for day in range(count)
    ]


def counted(detail: str) -> int:
    match = re.match(r"(\d+)× event", detail)
    assert match, detail
    return int(match.group(1))


async def test_a_journey_carries_a_bounded_number_of_events_for_scoring(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    now = await env.get_current_time()
    # 450 events in one signal (a CRM import of a year's visits): past EVENTS_PRUNED_AT the
    # journey prunes back to the newest EVENTS_KEPT, then takes the rest.
    await handle.signal("behaviors", page_views(450, now, "visit"))
    # Taken INBOX_SLICE at a time, one workflow task each (a 1 ms timer between), until all
    # are in.
    expected = EVENTS_KEPT + (450 - EVENTS_PRUNED_AT - 1)
    await eventually(handle, lambda s: page_views_counted(s) == expected)
    assert expected <= EVENTS_PRUNED_AT
    history = await handle.fetch_history()
    pauses = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        and e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == SLICE_PAUSE
    ]
    assert len(pauses) == 450 // INBOX_SLICE


async def test_pruning_keeps_what_still_counts_over_what_a_cap_already_spent(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    now = await env.get_current_time()
    signals = [
        BehaviorEvent(event_id="webinar", type="webinar_attended", occurred_at=now - DAY),
        BehaviorEvent(event_id="pricing", type="pricing_page", occurred_at=now - DAY),
    ]
    # Then a crawl of the site: 450 page views today, of which the daily cap counts 3.
    crawl = [
        BehaviorEvent(event_id=f"crawl-{n}", type="page_view", occurred_at=now) for n in range(450)
    ]
    await handle.signal("behaviors", signals + crawl)
    last = BehaviorEvent(event_id="last", type="document_download", occurred_at=now)
    await handle.signal("behavior", last)  # taken after all of them: the inbox is in order
    st = await eventually(handle, lambda s: "document_download" in rules_of(s))
    # The oldest-first pruning before dropped yesterday's webinar and pricing page here.
    assert {"webinar_attended", "pricing_page"} <= rules_of(st)
    assert page_views_counted(st) == 3


def rules_of(st: JourneyState) -> set[str]:
    return {r.rule for r in st.score.rules}


def page_views_counted(st: JourneyState) -> int:
    details = [r.detail for r in st.score.rules if r.rule == "page_view"]
    return counted(details[0]) if details else 0


@pytest.mark.replays_itself  # each closed run, below: the cache-off pass would take minutes
async def test_a_busy_journey_continues_as_new_before_its_history_is_slow_to_replay(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    first_run = (await handle.describe()).run_id
    latest = client.get_workflow_handle(handle.id)
    # A lead on the site all day: the relay's signal every few minutes, a few events each.
    for n in range(REPLAY_HISTORY_LIMIT):
        at = await env.get_current_time()
        visits = [
            BehaviorEvent(event_id=f"busy-{n}-{i}", type="page_view", occurred_at=at)
            for i in range(3)
        ]
        await latest.signal("behaviors", visits)
        await env.sleep(timedelta(minutes=5))
        if n % 50 == 49 and (await latest.describe()).run_id != first_run:
            break
    await next_run(latest, first_run)
    await env.sleep(timedelta(minutes=1))
    assert (await state(latest)).ended_reason is None  # the journey goes on in its next run

    runs = await closed_runs(client, handle.id, first_run)
    assert runs, "the journey should have continued as new"
    for history in runs:
        # Ends at the limit, give or take the last workflow task's events.
        assert len(history.events) <= REPLAY_HISTORY_LIMIT + 20, len(history.events)
        replayed = await Replayer(
            workflows=[LeadJourney], data_converter=pydantic_data_converter
        ).replay_workflow(history, raise_on_replay_failure=True)
        assert replayed.replay_failure is None


async def closed_runs(client: Client, workflow_id: str, first_run: str) -> list[WorkflowHistory]:
    """The histories of the runs that continued as new, from the first, followed forward."""
    histories: list[WorkflowHistory] = []
    run_id = first_run
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return histories
        histories.append(history)
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
