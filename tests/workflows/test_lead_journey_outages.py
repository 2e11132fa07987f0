"""Journeys keep moving through outages: a provider that stays away defers the step while
behaviour is still handled; a CRM that keeps failing never holds continue-as-new."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyInput
from nurture.mail.outbox import OutboxProvider
from nurture.mail.providers import SendTags, retry_later
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.crm import CrmWebhook
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    behave,
    eventually,
    make_lead,
    sends,
    state,
)
from tests.helpers.processes import until


async def continued_as_new(client: Client, workflow_id: str) -> bool:
    """Whether the journey's latest run was started by continue-as-new."""
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        return bool(started.continued_execution_run_id)
    return False


class FlakyProvider(OutboxProvider):
    """The outbox, unreachable while `down`: every attempt is "not accepted, retry"."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.outbox_dir)
        self.down = True
        self.attempts = 0

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        self.attempts += 1
        if self.down:
            raise retry_later("connection refused")
        return super().deliver(message, tags)


async def test_a_provider_outage_defers_the_step_and_behaviour_still_moves_the_lead(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    """Before: send_email was awaited with unlimited retries, so the journey handled no
    event, trigger or hand-off until the provider came back."""
    provider = FlakyProvider(settings)
    async with build_worker(client, settings, store, provider=provider):
        await advance_to_weekday_noon_tokyo(env, 2)
        outcome = await start_journey(client, settings, store, make_lead(store), "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        await env.sleep(timedelta(minutes=5))  # past the send's 3-minute bound
        st = await eventually(
            handle, lambda s: any("email provider unavailable" in t.text for t in s.timeline)
        )
        assert st.emails_sent == 0 and st.step_key == "welcome"
        await behave(env, handle, "product_page", url="https://acme.example/product")
        st = await eventually(handle, lambda s: s.score.behavior > 0)  # handled meanwhile
        assert st.emails_sent == 0 and st.step_key == "welcome"

        provider.down = False
        await env.sleep(timedelta(days=1))
        st = await eventually(handle, lambda s: s.emails_sent == 1)
        assert st.step_key != "welcome"
    keys = [s.send_key for s in sends(store)]
    assert len(keys) == len(set(keys)), "no step went twice"
    assert [(s.send_key, s.status) for s in sends(store)] == [("cold#1/welcome", "sent")]


async def test_a_crm_that_keeps_failing_does_not_hold_continue_as_new(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store
) -> None:
    """Before: continue-as-new waited for the hand-off post, retried without limit, so a
    CRM outage froze the journey and events piled up unprocessed."""
    crm = CrmWebhook(status=503)
    settings.handoff_webhook_url, settings.handoff_webhook_secret = crm.url, "crm-secret"
    try:
        async with build_worker(client, settings, store):
            await advance_to_weekday_noon_tokyo(env, 2)
            lead = make_lead(store)
            handle = await client.start_workflow(
                "LeadJourney",
                JourneyInput(product="acme", lead_id=lead.id, max_history_length=100),
                id=f"journey:acme:{lead.id}",
                task_queue=settings.task_queue,
            )
            latest = client.get_workflow_handle(handle.id)  # `handle` is the first run
            for _ in range(3):
                await behave(env, latest, "product_page", url="https://acme.example/product")
            await behave(env, latest, "webinar_attended")
            await behave(env, latest, "pricing_page", url="https://acme.example/pricing")
            await eventually(latest, lambda s: s.lifecycle == "handed_off")
            for i in range(60):  # enough history to continue as new, twice
                await behave(env, latest, "page_view", event_id=f"pv-{i}")
            await behave(env, latest, "document_download", event_id="late")
            st = await eventually(
                latest, lambda s: any("document_download" in t.text for t in s.timeline)
            )
            assert await continued_as_new(client, handle.id), "it continued as new"
            assert st.lifecycle == "handed_off"
            calls = len(crm.calls)
            assert calls >= 1
            crm.status = 204  # the CRM is back: the post carried across runs gets through
            # Waited for in real time, not with env.sleep: the test server may stop skipping
            # time once an attempt of the run that continued as new is refused at completion.

            async def delivered() -> bool:
                st = await state(latest)
                return any("delivered to the CRM" in t.text for t in st.timeline)

            await until(delivered, timeout=90)
            assert (await state(latest)).lifecycle == "handed_off"
            # Refused while the CRM was down, then taken (a call counted just before the CRM
            # came back may be the one answered 204: count answers, not calls).
            assert crm.answered[0] == 503 and crm.answered[-1] == 204
    finally:
        crm.close()
