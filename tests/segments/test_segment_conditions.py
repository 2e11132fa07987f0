"""Segments as conditions of a scenario (`entry`, a step's `only_if`): one language with
the lead's fields; checked where they may be asked and that they exist; and a journey
that asks the store which segments its lead is in, starting and passing over steps by it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.leads.profile import LeadProfile
from nurture.scenario.loader import ScenarioError, load_scenario_dir
from nurture.scenario.model import LeadCondition
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead
from tests.helpers.paths import SCENARIOS
from tests.helpers.scenarios import scenario_copy

SEGMENTS = (
    "segments:\n"
    "  saas-leads:\n    lead: {industry: [saas]}\n"
    "  big-companies:\n    lead: {company_size: {at_least: 1000}}\n"
)


def test_a_condition_names_a_segment_beside_fields() -> None:
    condition = LeadCondition.model_validate(
        {"in_segment": "saas-leads", "not": {"in_segment": "big-companies"}, "role": ["executive"]}
    )
    assert condition.segments() == {"saas-leads", "big-companies"}
    executive = LeadProfile(role="executive")
    assert condition.holds(executive, frozenset({"saas-leads"}))
    assert not condition.holds(executive, frozenset({"saas-leads", "big-companies"}))
    assert not condition.holds(executive)  # in no segment
    assert not condition.holds(LeadProfile(role="practitioner"), frozenset({"saas-leads"}))


def problems(tmp_path: Path, old: str, new: str) -> list[str]:
    root = tmp_path / f"scenarios-{len(list(tmp_path.iterdir()))}"
    folder = root / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    (root / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    path = folder / "scenario.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ScenarioError) as err:
        load_scenario_dir(folder)
    return [str(p) for p in err.value.problems]


def test_an_unknown_segment_or_one_asked_where_it_cannot_be_is_refused(tmp_path: Path) -> None:
    said = problems(
        tmp_path,
        "    cooldown: 7d\n",
        "    cooldown: 7d\n    only_if: {in_segment: saas-leads}\n",
    )
    assert any("triggers[0].only_if: in_segment: is asked of the store when a step is sent" in p
               for p in said), said  # fmt: skip
    said = problems(
        tmp_path,
        "entry_track: cold\n",
        "entry_track: cold\nentry:\n  - {when: {in_segment: nobody}, track: warm}\n",
    )
    assert any("no segment 'nobody' in scenarios/segments.yaml (defined: big-companies, "
               "saas-leads)" in p for p in said), said  # fmt: skip


async def test_a_journey_starts_and_passes_over_steps_by_its_leads_segments(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(
        settings,
        tmp_path,
        old="entry_track: cold\n",
        new="entry_track: cold\nentry:\n  - {when: {in_segment: big-companies}, track: warm}\n",
    )
    (settings.scenarios_dir / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    path = settings.scenarios_dir / "acme" / "scenario.yaml"
    path.write_text(
        path.read_text().replace(
            '{key: welcome, wait: 0d, template: note, subject: "Welcome, {{ lead.first_name }}"}',
            '{key: welcome, wait: 0d, template: note, subject: "Welcome", '
            "only_if: {in_segment: saas-leads}}",
        )
    )
    async with build_worker(client, settings, store):
        await advance_to_weekday_noon_tokyo(env, 2)
        states = {}
        for email, fields in (
            ("big@example.com", {"industry": "saas", "company_size": 5000}),
            ("saas@example.com", {"industry": "saas", "company_size": 50}),
            ("retail@example.com", {"industry": "retail", "company_size": 50}),
        ):
            lead = make_lead(store, email=email, **fields)
            outcome = await start_journey(client, settings, store, lead, "acme")
            handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
            states[email] = await eventually(
                handle, lambda s: s.step_index >= 1 or s.track == "warm"
            )
        # a broken segments file: no journey waits for a fix, its lead is in no segment
        (settings.scenarios_dir / "segments.yaml").write_text("segments: [oops]\n")
        lead = make_lead(store, email="later@example.com", company_size=5000)
        outcome = await start_journey(client, settings, store, lead, "acme")
        handle = client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
        later = await eventually(handle, lambda s: s.step_index >= 1)
    assert states["big@example.com"].track == "warm"  # its entry rule's segment
    assert states["saas@example.com"].emails_sent == 1  # welcomed: in saas-leads
    retail = states["retail@example.com"]
    assert (retail.track, retail.emails_sent) == ("cold", 0)
    assert any("passed over step 'welcome': its only_if does not hold" in e.text
               for e in retail.timeline)  # fmt: skip
    assert later.track == "cold"
    assert any(e.text.startswith("segments taken as not a member: the segments file:")
               for e in later.timeline), later.timeline  # fmt: skip
