"""Accepted events reach every journey of the lead, once, even when Temporal was down."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import Unsubscribe
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, identify, record_events
from nurture.store.models import Event, EventDelivery, Journey
from nurture.store.relay import (
    PARK_ATTEMPTS,
    _pending,
    parked_deliveries,
    relay_once,
    retry_delay,
    retry_parked,
)
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead, started
from tests.helpers.processes import run_starter


async def event(
    env: WorkflowEnvironment, event_id: str, type: str = "page_view", product: str | None = None
) -> BehaviorEvent:
    return BehaviorEvent(
        event_id=event_id, type=type, product=product, occurred_at=await env.get_current_time()
    )


def pending(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(EventDelivery.workflow_id, EventDelivery.event_id).where(
                EventDelivery.delivered_at.is_(None)
            )
        )
        return [(workflow_id, event_id) for workflow_id, event_id in rows]


async def test_events_wait_in_the_outbox_while_temporal_is_down_then_arrive_once(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    lead = store.get_lead(handle.id.split(":")[-1])
    assert lead is not None

    batch = [LoggedEvent(await event(env, f"pv-{i}"), lead_id=lead.id) for i in range(3)]
    record_events(store, batch)
    record_events(store, batch)  # a tracker retry: no second delivery
    assert len(pending(store)) == 3

    down = await Client.connect("127.0.0.1:1", data_converter=pydantic_data_converter, lazy=True)
    failed = await relay_once(store, down)
    assert failed.failed == 3 and len(pending(store)) == 3

    sent = await relay_once(store, client)
    assert sent.delivered == 3 and pending(store) == []
    st = await eventually(handle, lambda s: s.score.behavior == 3)
    assert sum(e.kind == "event" for e in st.timeline) == 3


async def test_product_events_go_to_their_journey_and_closed_journeys_take_nothing(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    handle = await started(env, client, settings, store)
    lead = store.get_lead(handle.id.split(":")[-1])
    assert lead is not None
    record_events(store, [LoggedEvent(await event(env, "x", product="other"), lead_id=lead.id)])
    assert pending(store) == []  # no journey of that product

    await handle.signal("unsubscribe", Unsubscribe())
    await handle.result()
    record_events(store, [LoggedEvent(await event(env, "late"), lead_id=lead.id)])
    result = await relay_once(store, client)
    assert result.closed == 1 and pending(store) == []


async def test_identify_replays_anonymous_browsing_into_the_journey(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    lead = make_lead(store)
    outcome = await start_journey(client, settings, store, lead, "acme")
    handle = client.get_workflow_handle(outcome.journey_id)
    visits = [
        LoggedEvent(await event(env, f"a{i}", "product_page"), anonymous_id="anon-7")
        for i in range(3)
    ]
    record_events(store, visits)
    assert pending(store) == []  # nobody to deliver to yet
    assert [e.event_id for e in identify(store, "anon-7", lead.id)] == ["a0", "a1", "a2"]
    assert (await relay_once(store, client)).delivered == 3
    st = await eventually(handle, lambda s: s.score.behavior >= 15)
    assert {r.rule for r in st.score.rules} >= {"product_page", "product page 3+ times in 14 days"}
    await env.sleep(timedelta(minutes=1))


def test_relays_of_several_api_processes_claim_disjoint_rows(any_database_url: str) -> None:
    """Two relays (two uvicorn workers) never take the same pending row, on either engine."""
    store = Store(any_database_url)
    store.upgrade()
    with store.session() as session:
        for i in range(200):
            session.add(
                Event(
                    event_id=f"e{i}",
                    type="page_view",
                    properties={},
                    occurred_at=datetime(2026, 11, 25, tzinfo=UTC),
                )
            )
            session.add(EventDelivery(workflow_id=f"journey:acme:ld_{i % 7}", event_id=f"e{i}"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        claims = list(
            pool.map(lambda _: {row.delivery_id for row in _pending(store, 60)}, range(4))
        )
    taken = [d for claim in claims for d in claim]
    assert len(taken) == len(set(taken)), "a row was claimed twice"
    assert len(taken) == 200  # 4 × 60 ≥ 200: every row went to exactly one relay
    store.engine.dispose()


async def test_events_for_a_journey_not_yet_started_wait_for_it(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    """The journey is noted before Temporal starts it: 'not found' then means 'not yet'."""
    lead = make_lead(store)
    workflow_id = f"journey:acme:{lead.id}"
    with store.session() as session:
        session.add(Journey(workflow_id=workflow_id, lead_id=lead.id, product="acme"))
    record_events(store, [LoggedEvent(await event(env, "early"), lead_id=lead.id)])
    assert (await relay_once(store, client)).failed == 1
    assert pending(store) == [(workflow_id, "early")]
    await start_journey(client, settings, store, lead, "acme")
    assert (await relay_once(store, client)).delivered == 1  # a failed round frees its claim
    st = await eventually(client.get_workflow_handle(workflow_id), lambda s: s.score.behavior == 1)
    assert st.score.behavior == 1


async def test_a_journey_that_keeps_failing_waits_longer_each_time(
    env: WorkflowEnvironment, store: Store
) -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 8)] == [0, 1, 3, 7, 60]
    lead = make_lead(store)
    with store.session() as session:
        session.add(Journey(workflow_id=f"journey:acme:{lead.id}", lead_id=lead.id, product="acme"))
    record_events(store, [LoggedEvent(await event(env, "f1"), lead_id=lead.id)])
    down = await Client.connect("127.0.0.1:1", data_converter=pydantic_data_converter, lazy=True)
    assert (await relay_once(store, down)).failed == 1  # 1st failure: retried at once
    assert (await relay_once(store, down)).failed == 1  # 2nd: waits a second
    assert _pending(store, 10) == []  # not claimable yet


def age(store: Store, *, attempts: int, hours: float, refusals: int | None = None) -> None:
    """The outbox as it would be after `attempts` failures, `refusals` of them by the journey
    (default: all), over `hours`."""
    with store.session() as session:
        session.execute(
            update(EventDelivery).values(
                attempts=attempts,
                claimed_until=None,
                refusals=attempts if refusals is None else refusals,
                created_at=datetime.now(UTC) - timedelta(hours=hours),
            )
        )


async def test_events_a_journey_keeps_refusing_are_parked_listed_and_can_be_retried(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    lead = make_lead(store)
    workflow_id = f"journey:acme:{lead.id}"
    with store.session() as session:  # noted, but its start never happened
        session.add(Journey(workflow_id=workflow_id, lead_id=lead.id, product="acme"))
    record_events(store, [LoggedEvent(await event(env, "lost"), lead_id=lead.id)])

    age(store, attempts=PARK_ATTEMPTS - 1, hours=0.5)  # refused often, but not for long
    assert (await relay_once(store, client)).parked == 0
    age(store, attempts=PARK_ATTEMPTS - 1, hours=2)
    round_ = await relay_once(store, client)
    assert (round_.failed, round_.parked) == (1, 1)
    age(store, attempts=0, hours=2)
    assert _pending(store, 10) == []  # set aside: no retry every minute any more
    [parked] = parked_deliveries(store)
    assert (parked.workflow_id, parked.events, parked.last_error) == (
        workflow_id,
        1,
        "journey not started yet",
    )

    code, listing = await run_starter(settings, "deliveries", script="-m nurture.cli")
    assert code == 0 and f"{workflow_id}  1 event(s) parked since" in listing, listing
    assert "journey not started yet" in listing

    await start_journey(client, settings, store, lead, "acme")
    code, output = await run_starter(
        settings, "deliveries", "retry", "--journey", workflow_id, script="-m nurture.cli"
    )
    assert code == 0 and "1 parked event(s) back on their way" in output, output
    assert parked_deliveries(store) == []
    assert retry_parked(store) == 0
    assert (await relay_once(store, client)).delivered == 1
    st = await eventually(client.get_workflow_handle(workflow_id), lambda s: s.score.behavior == 1)
    assert st.score.behavior == 1


async def test_while_temporal_is_down_events_are_never_parked(
    env: WorkflowEnvironment, store: Store
) -> None:
    lead = make_lead(store)
    with store.session() as session:
        session.add(Journey(workflow_id=f"journey:acme:{lead.id}", lead_id=lead.id, product="acme"))
    record_events(store, [LoggedEvent(await event(env, "wait"), lead_id=lead.id)])
    age(store, attempts=10 * PARK_ATTEMPTS, hours=48)
    down = await Client.connect("127.0.0.1:1", data_converter=pydantic_data_converter, lazy=True)
    round_ = await relay_once(store, down)
    assert (round_.failed, round_.parked) == (1, 0)
    assert parked_deliveries(store) == []


async def test_after_a_long_outage_the_first_refusal_parks_nothing(
    env: WorkflowEnvironment, client: Client, store: Store, worker: Worker
) -> None:
    """Temporal was down for hours (many failures), the journey is not started yet when it
    comes back: one refusal is not a journey that keeps refusing."""
    lead = make_lead(store)
    with store.session() as session:
        session.add(Journey(workflow_id=f"journey:acme:{lead.id}", lead_id=lead.id, product="acme"))
    record_events(store, [LoggedEvent(await event(env, "late"), lead_id=lead.id)])
    age(store, attempts=5 * PARK_ATTEMPTS, refusals=0, hours=6)
    round_ = await relay_once(store, client)
    assert (round_.failed, round_.parked) == (1, 0)
    assert parked_deliveries(store) == []
