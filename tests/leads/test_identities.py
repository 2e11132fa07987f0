"""Identified visitors: once `identify` links an anonymousId to a lead, that visitor's events
belong to the lead, including ones written by another API process at the same moment."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.api.event_writer import EventWriter, Owners, Write, Written
from nurture.leads.erasure import erase_lead
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent, identify
from nurture.store.models import Event
from nurture.store.relay import relay_once
from tests.helpers.api import LEAD, Api
from tests.helpers.journeys import eventually
from tests.helpers.paths import CONSENT


def visit(event_id: str, visitor: str) -> Write:
    def events(owners: Owners) -> list[LoggedEvent]:
        event = BehaviorEvent(event_id=event_id, type="page_view", occurred_at=datetime.now(UTC))
        return [LoggedEvent(event, lead_id=owners.by_visitor.get(visitor), anonymous_id=visitor)]

    return Write(user_ids=frozenset(), anonymous_ids=frozenset({visitor}), events=events)


def unlinked(store: Store) -> int:
    with store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Event).where(Event.lead_id.is_(None)))
            or 0
        )


async def test_after_identify_a_visitors_events_reach_the_lead_without_a_user_id(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    identified = {
        "type": "identify",
        "messageId": "i-1",
        "anonymousId": "anon-7",
        "userId": "crm-42",
    }
    assert (await api.http.post("/v1/identify", json=identified, headers=api.ingest)).is_success
    later = [
        {
            "type": "page",
            "messageId": f"later-{i}",
            "anonymousId": "anon-7",
            "context": {"page": {"url": "https://acme.example/product/tour"}},
        }
        for i in range(3)
    ]
    await api.http.post("/v1/batch", json={"batch": later}, headers=api.ingest)

    assert unlinked(store) == 0
    assert (await relay_once(store, client)).delivered == 3
    st = await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: any(r.rule == "product page 3+ times in 14 days" for r in s.score.rules),
    )
    assert st.score.behavior >= 30


def test_no_event_slips_between_identify_and_a_concurrent_write(any_store: Store) -> None:
    """Many rounds of writes racing an identify: every event ends with the lead."""
    lead, _ = any_store.upsert_lead(LeadIn(email="mia@example.com", consent=CONSENT))
    writer = EventWriter(any_store)
    for round_ in range(8):
        visitor = f"visitor-{round_}"
        with ThreadPoolExecutor(4) as pool:
            jobs: list[Future[list[Written]] | Future[list[BehaviorEvent]]]
            jobs = [
                pool.submit(writer.commit, [visit(f"{visitor}-{i}", visitor)]) for i in range(6)
            ]
            jobs.append(pool.submit(identify, any_store, visitor, lead.id))
            jobs += [
                pool.submit(writer.commit, [visit(f"{visitor}-late-{i}", visitor)])
                for i in range(6)
            ]
            for job in jobs:
                job.result()
    assert unlinked(any_store) == 0


def test_erasing_a_lead_forgets_which_visitors_it_was(any_store: Store) -> None:
    lead, _ = any_store.upsert_lead(LeadIn(email="ken@example.com", consent=CONSENT))
    identify(any_store, "cookie-1", lead.id)
    erase_lead(any_store, lead.id)
    EventWriter(any_store).commit([visit("after-erasure", "cookie-1")])
    with any_store.session() as session:
        assert (
            session.scalar(select(Event.lead_id).where(Event.event_id == "after-erasure")) is None
        )
