"""A/B variants of subject and content: each lead gets one pair, the same every time; the
variant is in the journey's state and the sends table."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.cli.preview import PreviewLead, find_email, parse_variant
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.journey.contract import JourneyResult
from nurture.mail.compose import Recipient
from nurture.scenario.loader import ScenarioError, load_scenario_dir
from nurture.schedule.variants import assign_variant
from nurture.store.engine import Store
from nurture.store.models import Lead, Send
from nurture.worker_setup import build_worker
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually, make_lead
from tests.helpers.scenarios import scenario_copy

SUBJECTS = 'subject: ["A guide for you", "Your guide"]'
GUIDE = "{key: guide, wait: 30d, template: note, " + SUBJECTS + "}"
PAIRED = "{key: guide, wait: 30d, template: [note, note-b], " + SUBJECTS + "}"
PAIRS = [("A guide for you", "note"), ("Your guide", "note-b")]


def content_variants(settings: Settings, tmp_path: Path, new: str = PAIRED) -> Path:
    folder = scenario_copy(settings, tmp_path, old=GUIDE, new=new)
    note = (folder / "templates" / "note.html").read_text()
    version_b = note.replace("{% block body %}", "{% block body %}<p>Version B</p>", 1)
    (folder / "templates" / "note-b.html").write_text(version_b)
    return folder


def test_subjects_and_templates_pair_up_or_the_error_says_how(
    settings: Settings, tmp_path: Path
) -> None:
    folder = content_variants(settings, tmp_path)
    guide = load_scenario_dir(folder).tracks["cold"].steps[1]
    assert guide.variants() == PAIRS

    shutil.rmtree(tmp_path / "acme")
    three = PAIRED.replace('"Your guide"]', '"Your guide", "Guide 3"]')
    folder = content_variants(settings, tmp_path, three)
    with pytest.raises(ScenarioError) as err:
        load_scenario_dir(folder)
    assert "3 subjects and 2 templates" in str(err.value.problems[0])

    (folder / "templates" / "note-b.html").unlink()
    shutil.rmtree(tmp_path / "acme")
    folder = scenario_copy(settings, tmp_path, old=GUIDE, new=PAIRED)
    with pytest.raises(ScenarioError) as err:
        load_scenario_dir(folder)
    [problem] = [str(p) for p in err.value.problems]
    assert "tracks.cold.steps[1].template[1]" in problem and "create" in problem


async def test_each_lead_gets_one_pair_of_subject_and_content(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    content_variants(settings, tmp_path)
    await advance_to_weekday_noon_tokyo(env, 2)
    leads: list[Lead] = []
    seen: set[int] = set()
    n = 0
    while len(seen) < 2 or len(leads) < 4:  # leads on both variants, known in advance
        lead = make_lead(store, email=f"lead{n}@example.com")
        seen.add(assign_variant(lead.id, "acme", "cold/guide", 2))
        leads.append(lead)
        n += 1
    async with build_worker(client, settings, store):
        handles = []
        for lead in leads:
            outcome = await start_journey(client, settings, store, lead, "acme")
            handles.append(
                client.get_workflow_handle(outcome.journey_id, result_type=JourneyResult)
            )
        for handle in handles:
            await eventually(handle, lambda s: s.emails_sent == 1)
        await env.sleep(timedelta(days=33))
        states = [await eventually(h, lambda s: s.emails_sent == 2) for h in handles]

    with store.session() as session:
        guides = {
            s.lead_id: s for s in session.scalars(select(Send).where(Send.send_key.like("%guide")))
        }
    for lead, st in zip(leads, states, strict=True):
        send = guides[lead.id]
        expected = assign_variant(lead.id, "acme", "cold/guide", 2)
        assert send.variant == st.variants["cold#1/guide"] == expected
        assert (send.subject, send.template) == [
            ("A guide for you", "note"),
            ("Your guide", "note-b"),
        ][expected]
        html = (settings.outbox_dir / "acme" / f"{send.id}.eml").read_text()
        assert ("Version B" in html) == (expected == 1)


def test_preview_shows_a_stored_lead_the_variant_its_journey_would_send(
    settings: Settings, tmp_path: Path
) -> None:
    guide = find_email(load_scenario_dir(content_variants(settings, tmp_path)), "cold/guide")
    for lead_id in ("ld_0001", "ld_0002", "ld_0003", "ld_0004"):
        lead = PreviewLead(lead_id, Recipient("x@example.com", {}), lead_id)
        expected = assign_variant(lead_id, "acme", "cold/guide", 2)
        assert parse_variant(None, guide, lead, "acme") == expected
    assert parse_variant(None, guide, PreviewLead("sample", Recipient("x@example.com", {}))) == 0
    assert parse_variant("B", guide) == 1
