"""Driving journeys in tests: leads, behaviour, bounded waits on state, and the clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import (
    JourneyInput,
    JourneyResult,
    JourneyState,
)
from nurture.leads.events import BehaviorEvent
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead, Send
from tests.helpers.paths import CONSENT

TOKYO = ZoneInfo("Asia/Tokyo")
Row = TypeVar("Row")


def make_lead(store: Store, **fields: object) -> Lead:
    data = {
        "email": "aiko@example.com",
        "first_name": "Aiko",
        "last_name": "Sato",
        "company": "Example KK",
        "industry": "saas",
        "company_size": 120,
        "role": "practitioner",
    } | fields
    lead, _ = store.upsert_lead(LeadIn(**data, consent=CONSENT))
    return lead


def sends(store: Store) -> list[Send]:
    with store.session() as s:
        return list(s.scalars(select(Send).order_by(Send.journey_time)))


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


QUERY_TIMEOUT = timedelta(seconds=10)


async def state(handle: WorkflowHandle) -> JourneyState:
    return await handle.query("state", result_type=JourneyState, rpc_timeout=QUERY_TIMEOUT)


async def advance_to_weekday_noon_tokyo(env: WorkflowEnvironment, weekday: int) -> datetime:
    """Skip to the next `weekday` (0 = Monday) at 12:00 in Tokyo, so schedules are exact."""
    now = (await env.get_current_time()).astimezone(TOKYO)
    target = now.replace(hour=12, minute=0, second=0, microsecond=0)
    target += timedelta(days=(weekday - now.weekday()) % 7)
    if target <= now:
        target += timedelta(days=7)
    await env.sleep(target - now)
    return target


def near(actual: datetime, expected: datetime) -> bool:
    return abs(utc(actual) - expected) < timedelta(minutes=1)


_ids = iter(range(1, 1_000_000))


async def behave(
    env: WorkflowEnvironment,
    handle: WorkflowHandle,
    type: str,
    *,
    event_id: str | None = None,
    url: str | None = None,
    **properties: object,
) -> BehaviorEvent:
    event = BehaviorEvent(
        event_id=event_id or f"ev-{next(_ids)}",
        type=type,
        occurred_at=await env.get_current_time(),
        url=url,
        properties=properties,
    )
    await handle.signal("behavior", event)
    return event


async def eventually(handle: WorkflowHandle, check: Callable[[JourneyState], bool]) -> JourneyState:
    """Wait (bounded) until the journey's state satisfies `check`; signals are asynchronous."""
    st: JourneyState | None = None
    for _ in range(200):
        try:
            st = await state(handle)
        except WorkflowQueryFailedError:
            st = None  # still loading its scenario
        except RPCError as err:  # asked of a run that continued as new before it answered
            if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise
            st = None
        if st is not None and check(st):
            return st
        await asyncio.sleep(0.05)
    raise AssertionError(f"journey never reached the expected state: {st}")


async def started(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, **lead: object
) -> WorkflowHandle:
    """A journey that has sent its welcome email, started on a Wednesday noon in Tokyo."""
    await advance_to_weekday_noon_tokyo(env, 2)
    outcome = await start_journey(client, settings, store, make_lead(store, **lead), "acme")
    handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
    await eventually(handle, lambda s: s.emails_sent == 1)
    return handle


def rows(store: Store, model: type[Row]) -> list[Row]:
    with store.session() as s:
        return list(s.scalars(select(model)))


async def hand_off(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    for _ in range(3):
        await behave(env, handle, "product_page")
    await behave(env, handle, "pricing_page")
    await eventually(handle, lambda s: s.lifecycle == "handed_off")


async def short_history_journey(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> WorkflowHandle:
    """A journey that continues as new every ~100 history events, past its welcome email."""
    await advance_to_weekday_noon_tokyo(env, 2)
    lead = make_lead(store)
    handle = await client.start_workflow(
        "LeadJourney",
        JourneyInput(product="acme", lead_id=lead.id, max_history_length=100),
        id=f"journey:acme:{lead.id}",
        task_queue=settings.task_queue,
    )
    await eventually(handle, lambda s: s.emails_sent == 1)
    return handle


async def next_run(handle: WorkflowHandle, run_id: str | None) -> str:
    """Wait (bounded) for the run after `run_id`, asking the server, never the journey.

    A query in flight while its run continues as new is answered by no one, and the
    time-skipping test server then stops skipping time for good (seen with the worker's
    cache off, where every query replays the history and so is slow enough to be caught).
    Waiting here without queries keeps the test's clock honest.
    """
    for _ in range(400):
        current = (await handle.describe()).run_id
        if current != run_id:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError("the journey should have continued as new")


async def search_attributes_of(client: Client, workflow_id: str) -> dict[str, object]:
    """Raw search attributes; the test server keeps an unset one as a null payload, which
    `describe()` cannot decode, where a real server removes it."""
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    fields = response.workflow_execution_info.search_attributes.indexed_fields
    return {
        name: json.loads(payload.data) if payload.data else None for name, payload in fields.items()
    }
