"""Broadcasts over HTTP: a draft checked as it is created, previewed, scheduled with its
recipients frozen, held; and refused with what to fix."""

from __future__ import annotations

from pathlib import Path

from nurture.config import Settings
from nurture.store.engine import LeadIn, Store
from tests.helpers.api import Api
from tests.helpers.paths import CONSENT
from tests.helpers.scenarios import scenario_copy

DRAFT = {
    "product": "acme",
    "segment": "saas",
    "variants": [
        {"subject": "Join us, {{ lead.first_name }}", "template": "note"},
        {"subject": "Seats are going", "template": "note"},
    ],
}


async def test_a_broadcast_from_draft_to_scheduled(
    api: Api, settings: Settings, store: Store, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path)
    (settings.scenarios_dir / "segments.yaml").write_text(
        "segments:\n  saas:\n    lead: {industry: [saas]}\n", encoding="utf-8"
    )
    for i in range(3):
        store.upsert_lead(LeadIn(email=f"s{i}@example.com", industry="saas", consent=CONSENT))
    created = await api.http.put("/v1/broadcasts/seminar", json=DRAFT, headers=api.admin)
    assert created.status_code == 201, created.text
    again = await api.http.put("/v1/broadcasts/seminar", json=DRAFT, headers=api.admin)
    assert again.status_code == 409 and "choose another id" in again.text
    shown = (await api.http.get("/v1/broadcasts/seminar/preview", headers=api.admin)).json()
    assert [p["subject"] for p in shown][1] == "Seats are going"
    assert shown[0]["subject"].startswith("Join us, ") and "1 Example Street" in shown[0]["text"]
    scheduled = await api.http.post("/v1/broadcasts/seminar/schedule", headers=api.admin)
    assert scheduled.json() == {"id": "seminar", "recipients": 3}
    twice = await api.http.post("/v1/broadcasts/seminar/schedule", headers=api.admin)
    assert twice.status_code == 409 and "only a draft can be scheduled" in twice.text
    view = (await api.http.get("/v1/broadcasts/seminar", headers=api.admin)).json()
    assert (view["state"], view["recipients"], view["handed"]) == ("scheduled", 3, {"waiting": 3})
    paused = await api.http.post("/v1/broadcasts/seminar/pause", headers=api.admin)
    assert paused.status_code == 202


async def test_a_draft_that_cannot_be_sent_is_refused_with_the_fix(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path)
    (settings.scenarios_dir / "segments.yaml").write_text(
        "segments:\n  saas:\n    lead: {industry: [saas]}\n", encoding="utf-8"
    )
    no_segment = await api.http.put(
        "/v1/broadcasts/b1", json={**DRAFT, "segment": "nope"}, headers=api.admin
    )
    assert no_segment.status_code == 422 and "no segment 'nope'" in no_segment.text
    bad_template = {**DRAFT, "variants": [{"subject": "Hi", "template": "missing"}]}
    refused = await api.http.put("/v1/broadcasts/b2", json=bad_template, headers=api.admin)
    assert refused.status_code == 422 and "no template 'missing'" in refused.text
    (settings.scenarios_dir / "acme" / "templates" / "bare.html").write_text("<p>Hi</p>")
    lawless = {**DRAFT, "variants": [{"subject": "Hi", "template": "bare"}]}
    refused = await api.http.put("/v1/broadcasts/b3", json=lawless, headers=api.admin)
    assert refused.status_code == 422 and "the law requires" in refused.text
    unknown = await api.http.get("/v1/broadcasts/b9", headers=api.admin)
    assert unknown.status_code == 404
    assert (await api.http.get("/v1/broadcasts/b9", headers=api.read)).status_code == 403
