"""`nurture lead erase`: personal data leaves the store and Temporal; anonymised counts stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.channels.line import links
from nurture.channels.line.links import issue_link_token, read_link_token
from nurture.channels.line.links import link as link_line
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.leads.erasure import erase_lead
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent, record_events
from nurture.store.models import Consent, Event, Lead, LineLink, Send, Transition
from tests.helpers.journeys import behave, started
from tests.helpers.paths import CONSENT
from tests.helpers.processes import run_starter


async def test_erasing_a_lead_scrubs_it_and_keeps_counts(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    settings.temporal_address = client.service_client.config.target_host
    handle = await started(
        env,
        client,
        settings,
        store,
        email="aiko@example.jp",
        first_name="Aiko",
        company="Example KK",
    )
    lead_id = handle.id.split(":")[-1]
    event = await behave(env, handle, "pricing_page", url="https://x.example/pricing?email=aiko")
    record_events(store, [LoggedEvent(event, lead_id=lead_id)])
    await env.sleep(timedelta(minutes=5))

    code, output = await run_starter_cli(settings, "lead", "erase", lead_id, "--yes")
    assert code == 0, output
    assert f"lead {lead_id} erased; journeys: journey:acme:{lead_id} (terminated;" in output
    desc = await client.get_workflow_handle(handle.id).describe()
    assert desc.status is not None and desc.status.name == "TERMINATED"

    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert lead.erased_at is not None and lead.email.endswith("@erased.invalid")
        assert (lead.first_name, lead.company) == (None, None)
        assert session.scalars(select(Consent.wording)).all() == [None]
        assert session.scalars(select(Event.url)).all() == [None]
        assert session.scalar(select(func.count()).select_from(Send)) == 1  # counts stay
        transitions = session.execute(select(func.count()).select_from(Transition)).scalar_one()
        assert transitions >= 1

    again, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    outcome = await start_journey(client, settings, store, again, "acme")
    assert not outcome.started and "erased" in outcome.message


async def run_starter_cli(settings: Settings, *args: str) -> tuple[int, str]:
    """The `nurture` CLI in a subprocess (starter.py is `nurture start`; this is the rest)."""
    return await run_starter(settings, *args, script="-m nurture.cli")


def test_erasure_forgets_the_leads_line_user(store: Store, settings: Settings) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    now = datetime.now(UTC)
    with store.session() as session:
        token = read_link_token(issue_link_token(lead.id, "acme", "s", now), "s", now)
        link_line(session, token, "Uaiko", "@acme", now)
    erase_lead(store, lead.id)
    with store.session() as session:
        assert links.lead_of(session, "acme", "Uaiko") is None
        assert session.scalar(select(func.count()).select_from(LineLink)) == 0
