"""A journey mixing email and LINE, on the time-skipping server, with the real line-bot-sdk
pushing to a local LINE API and LINE's signed webhook linking and unfollowing: step 1 by
email, step 2 on LINE for a linked lead and by email for one who is not, and after an
unfollow LINE stops while email goes on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from nurture.channels.line.links import issue_link_token
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.relay import relay_once
from nurture.worker_setup import build_worker
from tests.helpers.api import Api
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    make_lead,
    sends,
    state,
)
from tests.helpers.line import LineApi, channel, signed
from tests.helpers.scenarios import scenario_copy

GUIDE = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
LINE_GUIDE = (
    "{key: guide, wait: 30d, template: note, subject: A guide for you, channel: line, "
    'line: {template: guide, alt_text: "A guide for {{ lead.first_name }}"}}'
)
BENCHMARK = "{key: benchmark, wait: 30d, template: note, subject: Industry benchmark}"
LINE_BENCHMARK = (
    "{key: benchmark, wait: 30d, template: note, subject: Industry benchmark, channel: line, "
    "line: {template: guide, alt_text: Benchmark}, fallback: none}"
)
MESSAGE = [
    {"type": "text", "text": "{{ lead.first_name }}さん、ガイドをお届けします"},
    {
        "type": "flex",
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [{"type": "text", "text": "{{ journey.stage }}"}],
            },
        },
    },
]


@pytest.fixture
def line() -> Iterator[LineApi]:
    api = LineApi()
    yield api
    api.close()


@pytest_asyncio.fixture
async def line_worker(
    client: Client, settings: Settings, store: Store, line: LineApi, tmp_path: Path
) -> AsyncIterator[None]:
    folder = scenario_copy(settings, tmp_path, old=GUIDE, new=LINE_GUIDE)
    yaml = folder / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(BENCHMARK, LINE_BENCHMARK))
    (folder / "templates" / "guide.line.json").write_text(json.dumps(MESSAGE, ensure_ascii=False))
    settings.line_provider = "line"
    settings.line_api_base = line.url
    settings.line_channels = {"acme": channel()}
    async with build_worker(client, settings, store):
        yield


def webhook_event(kind: str, user: str, moment: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(moment.timestamp() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": f"01H{kind}{user}{int(moment.timestamp())}",
        "deliveryContext": {"isRedelivery": False},
        **fields,
    }


async def post_line(api: Api, *events: dict[str, Any]) -> dict[str, Any]:
    body, headers = signed({"destination": "Uacme", "events": list(events)})
    answer = await api.http.post("/v1/webhooks/line/acme", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def journey_of(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, email: str
) -> tuple[str, WorkflowHandle]:
    lead = make_lead(store, email=email)
    outcome = await start_journey(client, settings, store, lead, "acme")
    handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
    await eventually(handle, lambda s: s.emails_sent == 1)  # step 1, welcome: email
    return lead.id, handle


async def test_email_then_line_for_a_linked_lead_email_for_the_rest_and_no_line_after_unfollow(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    api: Api,
    line: LineApi,
    line_worker: None,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    linked_id, linked = await journey_of(env, client, settings, store, "aiko@example.com")
    other_id, other = await journey_of(env, client, settings, store, "ken@example.com")

    now = await env.get_current_time()
    token = issue_link_token(linked_id, "acme", settings.secret_key, now)
    nonce = {"link": {"result": "ok", "nonce": token}}
    said = await post_line(api, webhook_event("accountLink", "Uaiko", now, replyToken="r", **nonce))
    assert (said["linked"], said["refused"]) == (1, [])
    assert (await relay_once(store, client)).delivered == 1
    await eventually(linked, lambda s: any("line_linked" in e.text for e in s.timeline))
    with store.session() as session:
        assert send_gate.has_consent(session, linked_id, "acme", channel="line")
        assert not send_gate.has_consent(session, other_id, "acme", channel="line")

    await env.sleep(timedelta(days=31))  # step 2, guide: LINE
    await eventually(other, lambda s: s.emails_sent == 2)
    await eventually(
        linked, lambda s: any("on LINE" in e.text and "sent" in e.text for e in s.timeline)
    )
    [pushed] = line.pushes
    assert pushed.to == "Uaiko"
    assert pushed.messages[0] == {"type": "text", "text": "Aikoさん、ガイドをお届けします"}
    assert pushed.messages[1]["altText"] == "A guide for Aiko"
    assert (await state(linked)).emails_sent == 1  # the lead on LINE got no guide email
    by_key = {(s.journey_id, s.send_key): s for s in sends(store)}
    line_row = by_key[(linked.id, "cold#1.line/guide")]
    assert (line_row.channel, line_row.status, line_row.subject) == (
        "line",
        "sent",
        "A guide for Aiko",
    )
    assert line_row.first_tried_at is not None  # when LINE first saw its retry key
    assert by_key[(other.id, "cold#1.line/guide")].status == "suppressed"  # not on LINE
    assert by_key[(other.id, "cold#1/guide")].channel == "email"  # its fallback
    assert (linked.id, "cold#1/guide") not in by_key

    later = await env.get_current_time()
    said = await post_line(api, webhook_event("unfollow", "Uaiko", later))  # or a block
    assert said["unfollowed"] == 1
    with store.session() as session:
        assert not send_gate.has_consent(session, linked_id, "acme", channel="line")
        assert send_gate.has_consent(session, linked_id, "acme")  # email's stays

    await env.sleep(timedelta(days=31))  # step 3, benchmark: LINE or nothing (fallback: none)
    await eventually(linked, lambda s: any("skipped step 3/7" in e.text for e in s.timeline))
    assert len(line.pushes) == 1
    await env.sleep(timedelta(days=31))  # step 4, checklist: email goes on
    await eventually(linked, lambda s: s.emails_sent == 2)
    checklist = {s.send_key: s for s in sends(store) if s.journey_id == linked.id}[
        "cold#1/checklist"
    ]
    assert (checklist.channel, checklist.status) == ("email", "sent")


TRIGGER = "    subject: Thanks for downloading\n"
LINE_TRIGGER = (
    "    subject: Thanks for downloading\n    channel: line\n"
    "    line: {template: guide, alt_text: Thanks for downloading}\n"
)


async def test_a_line_trigger_goes_on_line_to_a_linked_lead_and_by_email_otherwise(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    api: Api,
    line: LineApi,
    line_worker: None,
) -> None:
    yaml = settings.scenarios_dir / "acme" / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(TRIGGER, LINE_TRIGGER))  # read at journey start
    await advance_to_weekday_noon_tokyo(env, 2)
    linked_id, linked = await journey_of(env, client, settings, store, "aiko@example.com")
    _, other = await journey_of(env, client, settings, store, "ken@example.com")
    now = await env.get_current_time()
    token = issue_link_token(linked_id, "acme", settings.secret_key, now)
    nonce = {"link": {"result": "ok", "nonce": token}}
    await post_line(api, webhook_event("accountLink", "Uaiko", now, replyToken="r", **nonce))

    for handle in (linked, other):
        await behave(env, handle, "document_download", document="guide")
    await eventually(other, lambda s: s.emails_sent == 2)  # its fallback: the email
    await eventually(linked, lambda s: any("sent trigger" in e.text for e in s.timeline))
    [pushed] = line.pushes
    assert pushed.to == "Uaiko" and pushed.messages[1]["altText"] == "Thanks for downloading"
    keys = {(s.journey_id, s.send_key): s.channel for s in sends(store)}
    assert keys[(linked.id, "trigger:download-followup#1.line")] == "line"
    assert (linked.id, "trigger:download-followup#1") not in keys
    assert keys[(other.id, "trigger:download-followup#1")] == "email"


async def test_a_line_trigger_that_line_never_takes_is_dropped_not_deferred(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    api: Api,
    line: LineApi,
    line_worker: None,
) -> None:
    yaml = settings.scenarios_dir / "acme" / "scenario.yaml"
    yaml.write_text(yaml.read_text().replace(TRIGGER, LINE_TRIGGER))
    await advance_to_weekday_noon_tokyo(env, 2)
    lead_id, handle = await journey_of(env, client, settings, store, "aiko@example.com")
    now = await env.get_current_time()
    token = issue_link_token(lead_id, "acme", settings.secret_key, now)
    nonce = {"link": {"result": "ok", "nonce": token}}
    await post_line(api, webhook_event("accountLink", "Uaiko", now, replyToken="r", **nonce))
    line.fail_next = [503] * 1000  # LINE is down for longer than the send's bound
    await behave(env, handle, "document_download", document="guide")
    await env.sleep(timedelta(minutes=5))  # the bound (3 minutes) of every retry runs out
    st = await eventually(
        handle, lambda s: any("could not send trigger" in e.text for e in s.timeline)
    )
    assert not any("deferred" in e.text for e in st.timeline)
    await env.sleep(timedelta(days=2))  # warm's first step goes out on time, undeferred
    await eventually(handle, lambda s: s.emails_sent == 2)
    assert line.pushes == []
