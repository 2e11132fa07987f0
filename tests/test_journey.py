"""LeadJourney on the time-skipping test server: what a lead would experience over months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.config import Settings
from nurture.db import Send
from nurture.journey import JourneyState
from nurture.journeys import start_journey
from nurture.store import LeadIn, Store

TOKYO = ZoneInfo("Asia/Tokyo")


def make_lead(store: Store, **fields):
    data = {"email": "aiko@example.com", "first_name": "Aiko", "last_name": "Sato",
            "company": "Example KK", "industry": "saas", "company_size": 120,
            "role": "practitioner"} | fields
    lead, _ = store.upsert_lead(LeadIn(**data))
    return lead


def sends(store: Store) -> list[Send]:
    with store.session() as s:
        return list(s.scalars(select(Send).order_by(Send.journey_time)))


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def state(handle: WorkflowHandle) -> JourneyState:
    return await handle.query("state", result_type=JourneyState)


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


async def test_cold_journey_sends_monthly_inside_the_send_window(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    start = await advance_to_weekday_noon_tokyo(env, 2)  # a Wednesday, 12:00 JST
    lead = make_lead(store)
    outcome = await start_journey(client, settings, lead, "acme")
    assert outcome.started

    await env.sleep(timedelta(days=181))  # six months

    sent = sends(store)
    day = timedelta(days=1)
    # 30-day cadence on weekdays 9-18 JST: a Sunday due date waits for Monday 09:00.
    t0 = start
    t1 = t0 + 30 * day  # Friday 12:00
    t2 = (t1 + 31 * day).replace(hour=9)  # Sunday → Monday 09:00
    t3 = t2 + 30 * day  # Wednesday 09:00
    t4 = t3 + 30 * day  # Friday 09:00
    t5 = t4 + 31 * day  # Sunday → Monday 09:00
    expected = [t0, t1, t2, t3, t4, t5]
    assert [s.send_key for s in sent] == [
        "cold#1/welcome", "cold#1/guide", "cold#1/benchmark",
        "cold#1/checklist", "cold#1/story", "cold#1/trends",
    ]
    assert all(near(s.journey_time, t) for s, t in zip(sent, expected, strict=True)), [
        utc(s.journey_time).astimezone(TOKYO) for s in sent
    ]
    for s in sent:
        local = utc(s.journey_time).astimezone(TOKYO)
        assert local.weekday() < 5 and 9 <= local.hour < 18
    assert all(s.status == "sent" for s in sent)
    eml = list((settings.outbox_dir / "acme").glob("*.eml"))
    assert len(eml) == 6

    st = await state(client.get_workflow_handle(outcome.journey_id))
    assert st.emails_sent == 6 and st.lifecycle == "nurturing" and st.stage == "cold"
    assert st.step_key == "roundup"
    assert st.next_touch_at is not None and near(st.next_touch_at, t5 + 30 * day)
