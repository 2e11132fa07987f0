"""A scenario that promotes A/B winners: once a step's test has a winner, a journey sends it
instead of the variant its lead was assigned; without a winner, the assignment stands."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.schedule.variants import assign_variant
from nurture.store.engine import Store
from nurture.store.models import Lead
from nurture.worker_setup import build_worker
from tests.helpers.analytics import ab_arms
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, make_lead, sends, state
from tests.helpers.scenarios import scenario_copy

EXIT = "exit:\n  after: 365d\n"
PROMOTE = "ab:\n  then: promote\n  min_sample: 20\n" + EXIT


def promoting(settings: Settings, tmp_path: Path) -> None:
    scenario_copy(settings, tmp_path, old=EXIT, new=PROMOTE)


def guide_test(store: Store, clicks: tuple[int, int]) -> None:
    """30 earlier guide emails per subject variant, with that many clicks by a person."""
    ab_arms(store, clicks)


def lead_assigned(store: Store, variant: int) -> Lead:
    """A lead whose stable A/B assignment for the guide is `variant`."""
    for n in range(100):
        lead = make_lead(store, email=f"reader{n}@example.com")
        if assign_variant(lead.id, "acme", "cold/guide", 2) == variant:
            return lead
    raise AssertionError("no lead with that assignment in 100 tries")


async def guide_variant(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, lead: Lead
) -> tuple[int, list[str]]:
    await advance_to_weekday_noon_tokyo(env, 2)
    async with build_worker(client, settings, store):
        outcome = await start_journey(client, settings, store, lead, "acme")
        handle = client.get_workflow_handle(outcome.journey_id)
        await env.sleep(timedelta(days=31))  # welcome, then the guide 30 days later
        st = await state(handle)
    [guide] = [s for s in sends(store) if s.send_key == "cold#1/guide" and s.lead_id == lead.id]
    return guide.variant, [entry.text for entry in st.timeline]


async def test_the_winner_is_sent_instead_of_the_assigned_variant(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    promoting(settings, tmp_path)
    guide_test(store, clicks=(1, 15))  # B wins clearly
    lead = lead_assigned(store, 0)
    variant, timeline = await guide_variant(env, client, settings, store, lead)
    assert variant == 1
    assert any("variant B won its A/B test; sending it" in text for text in timeline)


async def test_without_a_winner_the_assignment_stands(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    promoting(settings, tmp_path)
    guide_test(store, clicks=(6, 8))  # no difference yet
    lead = lead_assigned(store, 0)
    variant, _ = await guide_variant(env, client, settings, store, lead)
    assert variant == 0


async def test_a_scenario_that_only_reports_never_promotes(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path)
    guide_test(store, clicks=(1, 15))
    lead = lead_assigned(store, 0)
    variant, _ = await guide_variant(env, client, settings, store, lead)
    assert variant == 0
