"""Custom lead attributes through the API: PATCH, upsert and identify traits check every
value against what the scenarios declare, and refuse without storing anything."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nurture.config import Settings
from nurture.store.engine import Store
from nurture.store.models import Lead
from tests.helpers.api import LEAD, Api
from tests.helpers.scenarios import scenario_copy

DECLARED = (
    "attributes:\n"
    "  plan: {type: enum, values: [starter, enterprise]}\n"
    "  seats: {type: number}\n"
    "  budget_approved: {type: boolean}\n"
    "  renews_on: {type: date}\n"
    "  crm_segment: {type: string}\n"
    "entry_track: cold"
)


def declare(settings: Settings, tmp_path: Path) -> None:
    scenario_copy(settings, tmp_path, old="entry_track: cold", new=DECLARED)


def stored(store: Store, lead_id: str) -> dict[str, object] | None:
    with store.session() as session:
        return session.get_one(Lead, lead_id).attributes


async def test_patch_sets_merges_and_clears_attributes(
    api: Api, store: Store, settings: Settings, tmp_path: Path
) -> None:
    declare(settings, tmp_path)
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    first = {"plan": "STARTER", "seats": 12, "budget_approved": True, "renews_on": "2027-03-31"}
    one = await api.http.patch(f"/v1/leads/{lead_id}", json={"attributes": first},
                               headers=api.leads)  # fmt: skip
    assert one.status_code == 200, one.text
    expected = {**first, "plan": "starter"}  # stored as declared, whatever the case
    assert one.json()["profile"]["attributes"] == expected
    # a PATCH keeps what it does not name, and null clears one
    two = await api.http.patch(
        f"/v1/leads/{lead_id}",
        json={"title": "CFO", "attributes": {"seats": 40.5, "renews_on": None}},
        headers=api.leads,
    )
    assert two.status_code == 200, two.text
    assert stored(store, lead_id) == {"plan": "starter", "seats": 40.5, "budget_approved": True}
    assert two.json()["title"] == "CFO" and two.json()["journeys"] == {"acme": "told of the change"}
    # an upsert that leaves attributes out keeps them
    again = await api.http.post("/v1/leads", json={**LEAD, "title": "CEO"}, headers=api.leads)
    assert again.status_code == 200 and stored(store, lead_id) == {
        "plan": "starter", "seats": 40.5, "budget_approved": True,
    }  # fmt: skip


async def test_bad_attributes_are_refused_with_what_is_wrong_and_nothing_changes(
    api: Api, store: Store, settings: Settings, tmp_path: Path
) -> None:
    declare(settings, tmp_path)
    lead = {**LEAD, "attributes": {"plan": "enterprise"}}
    lead_id = (await api.http.post("/v1/leads", json=lead, headers=api.leads)).json()["lead_id"]
    cases = [
        ({"plna": "pro"}, "attributes.plna: unknown attribute 'plna'; known attributes: "
         "budget_approved, crm_segment, plan, renews_on, seats"),
        ({"plan": "gold"}, "attributes.plan: takes one of starter, enterprise (got 'gold')"),
        ({"seats": "12"}, "attributes.seats: takes a number, e.g. 12 or 3.5 (got '12')"),
        ({"budget_approved": "yes"}, "attributes.budget_approved: takes true or false"),
        ({"renews_on": "31/03/2027"}, "attributes.renews_on: takes a date as YYYY-MM-DD"),
        ({"crm_segment": "a\nb"}, "attributes.crm_segment: the value contains a line break"),
    ]  # fmt: skip
    for attributes, says in cases:
        for method, path in (("PATCH", f"/v1/leads/{lead_id}"), ("POST", "/v1/leads")):
            body: dict[str, object] = {"attributes": {"seats": 5, **attributes}}
            if method == "POST":
                body = {**LEAD, **body}
            answer = await api.http.request(method, path, json=body, headers=api.leads)
            assert answer.status_code == 422, (method, answer.text)
            assert says in answer.text, answer.text
    assert stored(store, lead_id) == {"plan": "enterprise"}
    identity = await api.http.patch(f"/v1/leads/{lead_id}", json={"email": "x@example.jp"},
                                    headers=api.leads)  # fmt: skip
    assert identity.status_code == 422 and "Extra inputs are not permitted" in identity.text
    missing = await api.http.patch("/v1/leads/ld_0000000000000000", json={"title": "CFO"},
                                   headers=api.leads)  # fmt: skip
    assert missing.status_code == 404
    tracker = await api.http.patch(f"/v1/leads/{lead_id}", json={"title": "x"}, headers=api.ingest)
    assert tracker.status_code == 403


async def test_identify_traits_set_declared_attributes_and_leave_the_others(
    api: Api, store: Store, settings: Settings, tmp_path: Path
) -> None:
    declare(settings, tmp_path)
    body = {
        "type": "identify",
        "messageId": "i-1",
        "userId": "crm-42",
        # a CDP sends what it knows: only the declared attributes are taken
        "traits": {
            "email": "aiko@example.jp",
            "phone": "03",
            "plan": "enterprise",
            "seats": 300,
            "favourite_colour": "blue",
        },
    }
    created = await api.http.post("/v1/identify", json=body, headers=api.ingest)
    assert created.status_code == 200, created.text
    with store.session() as session:
        lead = session.scalars(select(Lead)).one()
        assert lead.attributes == {"plan": "enterprise", "seats": 300}
    update = {**body, "messageId": "i-2", "traits": {"budget_approved": False}}
    assert (await api.http.post("/v1/identify", json=update, headers=api.ingest)).status_code == 200
    assert stored(store, lead.id) == {"plan": "enterprise", "seats": 300, "budget_approved": False}
    wrong = {**body, "messageId": "i-3", "traits": {"seats": "many"}}
    refused = await api.http.post("/v1/identify", json=wrong, headers=api.ingest)
    assert refused.status_code == 422
    assert "identify i-3: traits: attributes.seats: takes a number" in refused.text
    assert stored(store, lead.id) == {"plan": "enterprise", "seats": 300, "budget_approved": False}


async def test_a_batch_with_one_bad_attribute_stores_none_of_its_leads(
    api: Api, store: Store, settings: Settings, tmp_path: Path
) -> None:
    declare(settings, tmp_path)
    good = {"email": "ken@example.jp", "attributes": {"plan": "starter"}}
    bad = {"email": "mia@example.jp", "attributes": {"plan": "gold"}}
    answer = await api.http.post("/v1/leads/batch", json=[good, bad], headers=api.leads)
    assert answer.status_code == 422, answer.text
    assert "1.attributes.plan: takes one of starter, enterprise (got 'gold')" in answer.text
    with store.session() as session:
        assert session.scalars(select(Lead)).all() == []
