"""A `channel: webhook` step on the time-skipping server: posted once, signed, with the
send's idempotency key and the rendered body; a receiver's refusal is recorded and the
journey moves on; a lead who unsubscribed is not handed on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from nurture.channels.webhook import verify_signature
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult, Unsubscribe
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.crm import CrmWebhook
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead, sends
from tests.helpers.scenarios import scenario_copy

GUIDE = '{key: guide, wait: 30d, template: note, subject: ["A guide for you", "Your guide"]}'
SECRET = "step-webhook-secret"


@pytest.fixture
def receiver() -> Iterator[CrmWebhook]:
    hook = CrmWebhook(status=200)
    yield hook
    hook.close()


@pytest_asyncio.fixture
async def webhook_worker(
    client: Client, settings: Settings, store: Store, receiver: CrmWebhook, tmp_path: Path
) -> AsyncIterator[None]:
    step = (
        "{key: guide, wait: 30d, channel: webhook, "
        f"webhook: {{url: '{receiver.url}', template: crm-task}}}}"
    )
    folder = scenario_copy(settings, tmp_path, old=GUIDE, new=step)
    body = {
        "task": "Call {{ lead.first_name }} ({{ lead.company }})",
        "stage": "{{ journey.stage }}",
    }
    (folder / "templates" / "crm-task.webhook.json").write_text(json.dumps(body))
    settings.step_webhook_secret = SecretStr(SECRET)
    async with build_worker(client, settings, store):
        yield


async def journey(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, email: str
) -> WorkflowHandle:
    lead = make_lead(store, email=email, first_name='Ai"ko')
    outcome = await start_journey(client, settings, store, lead, "acme")
    handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
    await eventually(handle, lambda s: s.emails_sent == 1)
    return handle


async def test_a_webhook_step_is_posted_once_signed_and_rendered(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    receiver: CrmWebhook,
    webhook_worker: None,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    handle = await journey(env, client, settings, store, "aiko@example.com")
    await env.sleep(timedelta(days=31))
    await eventually(handle, lambda s: any("posted step 2/7" in e.text for e in s.timeline))
    [(body, headers)] = receiver.calls
    verify_signature(body, headers["X-Nurture-Signature"], SECRET, datetime.now(UTC))
    posted = json.loads(body)
    [row] = [s for s in sends(store) if s.send_key == "cold#1/guide"]
    assert headers["Idempotency-Key"] == posted["send_id"] == row.id
    assert (row.channel, row.status) == ("webhook", "sent")
    assert posted["step"] == "guide" and posted["product"] == "acme"
    assert posted["data"] == {"task": 'Call Ai"ko (Example KK)', "stage": "cold"}
    await env.sleep(timedelta(days=31))  # step 3 is an email again
    await eventually(handle, lambda s: s.emails_sent == 2)
    assert len(receiver.calls) == 1


async def test_a_refused_post_is_recorded_and_an_unsubscribed_lead_is_not_handed_on(
    env: WorkflowEnvironment,
    client: Client,
    settings: Settings,
    store: Store,
    receiver: CrmWebhook,
    webhook_worker: None,
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    refused = await journey(env, client, settings, store, "aiko@example.com")
    left = await journey(env, client, settings, store, "ken@example.com")
    await left.signal("unsubscribe", Unsubscribe(mail_types=["step"]))
    receiver.status = 422
    await env.sleep(timedelta(days=31))
    await eventually(
        refused, lambda s: any("could not post step 2/7" in e.text for e in s.timeline)
    )
    await eventually(left, lambda s: any("skipped step 'guide'" in e.text for e in s.timeline))
    rows = {(s.journey_id, s.send_key): s for s in sends(store)}
    failed = rows[(refused.id, "cold#1/guide")]
    assert failed.status == "failed" and "refused it with 422" in (failed.detail or "")
    assert (left.id, "cold#1/guide") not in rows
    assert len(receiver.calls) == 1  # refused once, never retried
    await env.sleep(timedelta(days=31))
    await eventually(refused, lambda s: s.emails_sent == 2)  # the journey moved on
