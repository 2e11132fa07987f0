"""A hand-off in Slack, on the time-skipping server with the real slack_sdk posting to a
local Slack API: the message and its buttons, the SLA reminder threaded under it, and a
click on Accept (signed as Slack signs it) that becomes the journey's sales feedback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.handoff.slack import read_action
from nurture.journey.client import give_feedback
from nurture.journey.contract import SalesFeedback
from nurture.store.engine import Store
from nurture.store.models import Send
from nurture.worker_setup import build_worker
from tests.helpers.api import Api
from tests.helpers.history_text import decoded_history
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    eventually,
    hand_off,
    rows,
    started,
    state,
)
from tests.helpers.scenarios import scenario_copy
from tests.helpers.slack import SIGNING_SECRET, TOKEN, SlackApi, signed_click

OWNER = "sales@acme.example"
SLACK = (
    f"  owner: {OWNER}\n  sla: {{business_days: 2}}\n"
    "  notify: {slack: {channel: '#sales-acme'}}\n  recycle:\n"
)


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    api = SlackApi()
    yield api
    api.close()


@pytest_asyncio.fixture
async def slack_worker(
    client: Client, settings: Settings, store: Store, slack: SlackApi, tmp_path: Path
) -> AsyncIterator[None]:
    scenario_copy(settings, tmp_path / "scenarios", old="  recycle:\n", new=SLACK)
    settings.slack_bot_token = SecretStr(TOKEN)
    settings.slack_signing_secret = SecretStr(SIGNING_SECRET)
    settings.slack_api_base = slack.api
    async with build_worker(client, settings, store):
        yield


def click(slack: SlackApi, action_id: str, user: str = "kato") -> dict[str, Any]:
    message = [m for m in slack.messages if m.thread_ts is None][-1]
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e["action_id"] == action_id]
    return {
        "type": "block_actions",
        "user": {"id": "U1", "username": user},
        "actions": [{"action_id": action_id, "value": button["value"], "type": "button"}],
        "message": {"ts": message.ts, "blocks": message.blocks},
        "response_url": f"{slack.url}/response/T1/B1",
    }


async def test_a_handoff_reaches_slack_with_buttons_and_its_reminder_in_the_thread(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    slack: SlackApi,
    slack_worker: None,
) -> None:
    handle = await started(
        env, client, settings, store, first_name="Aiko", last_name="Sato", company="Example KK"
    )
    await advance_to_weekday_noon_tokyo(env, 4)  # Friday
    await hand_off(env, handle)
    await eventually(handle, lambda s: any("(and in Slack)" in e.text for e in s.timeline))
    [posted] = slack.messages
    assert posted.channel == "#sales-acme" and posted.thread_ts is None
    assert posted.text.startswith("[Acme Analytics] Hot lead for sales: Aiko Sato (Example KK)")
    text = json.dumps(posted.blocks, ensure_ascii=False)
    for expected in ("Aiko Sato", "Example KK", "pricing_page", f"/workflows/{handle.id}"):
        assert expected in text, expected
    [actions] = [b for b in posted.blocks if b["type"] == "actions"]
    labels = [(e["text"]["text"], e["style"]) for e in actions["elements"]]
    assert labels == [("Accept", "primary"), ("Reject", "danger")]
    value = actions["elements"][0]["value"]
    assert read_action(value, settings.secret_key).journey_id == handle.id
    assert handle.id not in value and "Sato" not in value  # sealed
    slack_rows = {s.send_key: s for s in rows(store, Send) if s.channel == "slack"}
    assert slack_rows["slack:handoff#1"].provider_message_id == posted.ts
    history = decoded_history(await handle.fetch_history())
    assert "Sato" not in history and "Example KK" not in history

    await env.sleep(timedelta(days=4, hours=1))  # Tuesday: two business days, no feedback
    await eventually(handle, lambda s: any("reminded the owner" in e.text for e in s.timeline))
    [_, reminder] = slack.messages
    assert reminder.thread_ts == posted.ts and "Reminder" in reminder.text
    assert not [b for b in reminder.blocks if b["type"] == "actions"]


async def test_a_click_on_accept_is_the_journeys_feedback_and_replaces_the_buttons(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    slack: SlackApi,
    slack_worker: None,
    api: Api,
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    await eventually(handle, lambda s: any("(and in Slack)" in e.text for e in s.timeline))

    body, headers = signed_click(click(slack, "handoff_accept"))
    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    refused = await api.http.post("/v1/webhooks/slack/interactions", content=body, headers=forged)
    assert refused.status_code == 403
    assert (await state(handle)).lifecycle == "handed_off"

    answer = await api.http.post("/v1/webhooks/slack/interactions", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["said"] == "Accepted by slack:kato (hand-off #1)"
    st = await state(handle)
    assert st.lifecycle == "sal"  # a sales-accepted lead
    assert any("sales feedback from slack:kato: accepted" in e.text for e in st.timeline)
    [replaced] = slack.replaced
    assert replaced["replace_original"] is True
    assert not [b for b in replaced["blocks"] if b["type"] == "actions"]
    assert replaced["blocks"][-1]["elements"][0]["text"] == "Accepted by slack:kato (hand-off #1)"

    again = await api.http.post("/v1/webhooks/slack/interactions", content=body, headers=headers)
    assert again.json()["said"].startswith("Not recorded (accepted by slack:kato):")
    assert (await state(handle)).lifecycle == "sal"


async def test_slack_unset_or_unsigned_is_refused(api: Api, settings: Settings) -> None:
    body, headers = signed_click({"type": "block_actions", "actions": []})
    unset = await api.http.post("/v1/webhooks/slack/interactions", content=body, headers=headers)
    assert unset.status_code == 403 and "NURTURE_SLACK_SIGNING_SECRET" in unset.text
    settings.slack_signing_secret = SecretStr(SIGNING_SECRET)
    bare = await api.http.post("/v1/webhooks/slack/interactions", content=body)
    assert bare.status_code == 403 and "only Slack may call this" in bare.text


async def test_slack_failing_for_good_does_not_keep_the_owners_email_from_going(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    slack: SlackApi,
    slack_worker: None,
) -> None:
    settings.slack_bot_token = None  # e.g. the token was removed from the deployment
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    st = await eventually(handle, lambda s: any("except Slack" in e.text for e in s.timeline))
    [said] = [e.text for e in st.timeline if "except Slack" in e.text]
    assert said.startswith("emailed hand-off #1 to the owner (and in Slack), except Slack:")
    assert "NURTURE_SLACK_BOT_TOKEN is not set" in said
    sent = {s.send_key: s.status for s in rows(store, Send)}
    assert sent["sales:handoff#1"] == "sent" and "slack:handoff#1" not in sent
    assert slack.messages == []


async def test_an_old_hand_offs_button_does_not_answer_the_next_one(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    slack: SlackApi,
    slack_worker: None,
    api: Api,
) -> None:
    handle = await started(env, client, settings, store)
    await hand_off(env, handle)
    await eventually(handle, lambda s: any("(and in Slack)" in e.text for e in s.timeline))
    old_click = click(slack, "handoff_accept")
    lead_id = handle.id.split(":")[-1]
    await give_feedback(client, "acme", lead_id, SalesFeedback(outcome="rejected"))
    await env.sleep(timedelta(days=30))
    await hand_off(env, handle)  # hand-off #2, its own message
    body, headers = signed_click(old_click)
    answer = await api.http.post("/v1/webhooks/slack/interactions", content=body, headers=headers)
    said = answer.json()["said"]
    assert said.startswith("Not recorded (accepted by slack:kato):")
    assert "this answers hand-off #1, but the lead's current hand-off is #2" in said
    assert (await state(handle)).lifecycle == "handed_off"
    bad = {**headers, "X-Slack-Request-Timestamp": "soon"}
    refused = await api.http.post("/v1/webhooks/slack/interactions", content=body, headers=bad)
    assert refused.status_code == 403
