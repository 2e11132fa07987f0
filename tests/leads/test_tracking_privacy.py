"""What the API keeps of a tracker's URLs and properties: what the scenario names, no more."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from nurture.api.segment_spec import PageMessage, TrackMessage, page_events, track_events
from nurture.scenario.loader import load_scenario_dir
from tests.helpers.paths import SCENARIOS

ACME = SCENARIOS / "acme"
NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_a_scenario_keeps_the_query_parameters_and_properties_it_names(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    shutil.copytree(ACME, folder)
    yaml = folder / "scenario.yaml"
    yaml.write_text(
        yaml.read_text().replace(
            "pages:", "tracking: {keep_query: [plan], keep_properties: [plan_name]}\npages:"
        )
    )
    scenario = load_scenario_dir(folder)
    url = "https://u:p@acme.example/pricing?plan=pro&email=a%40b.jp&utm_medium=mail&x=1#top"
    page = PageMessage.model_validate(
        {
            "messageId": "p",
            "anonymousId": "a",
            "context": {"page": {"url": url}},
            "properties": {"plan_name": "Pro", "email": "a@b.jp", "document": "guide"},
        }
    )
    [event] = page_events(page, NOW, [scenario])
    assert event.type == "pricing_page"
    assert event.url == "https://acme.example/pricing?plan=pro&utm_medium=mail"
    assert event.properties == {"plan_name": "Pro"}  # keep_properties replaces the default

    track = TrackMessage.model_validate(
        {
            "messageId": "t",
            "anonymousId": "a",
            "event": "Document Download",
            "properties": {"document": "mail me at a@b.jp", "plan_name": "Pro", "phone": "090"},
        }
    )
    [download] = track_events(track, NOW, [scenario])
    assert download.properties == {"plan_name": "Pro"}  # an address is dropped even if named


def test_without_a_tracking_key_rules_properties_and_document_names_are_kept() -> None:
    scenario = load_scenario_dir(ACME)
    track = TrackMessage.model_validate(
        {
            "messageId": "t",
            "userId": "u",
            "event": "Document Download",
            "properties": {
                "document": "expense-guide",
                "email": "a@b.jp",
                "phone": "090",
                "url": "https://acme.example/guide?email=a%40b.jp&utm_source=x",
            },
        }
    )
    [event] = track_events(track, NOW, [scenario])
    assert event.properties == {"document": "expense-guide"}
    assert event.url == "https://acme.example/guide?utm_source=x"
