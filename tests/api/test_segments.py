"""Segments over HTTP: saved, counted and paged with an admin key; refused with a reason."""

from __future__ import annotations

from pathlib import Path

from nurture.config import Settings
from nurture.store.engine import LeadIn, Store
from tests.helpers.api import Api
from tests.helpers.scenarios import scenario_copy


async def test_a_segment_saved_through_the_api_is_counted_and_paged(api: Api, store: Store) -> None:
    ids = sorted(
        store.upsert_lead(LeadIn(email=f"f{i}@example.com", industry="Finance"))[0].id
        for i in range(5)
    )
    store.upsert_lead(LeadIn(email="r@example.com", industry="retail"))
    finance = {"description": "finance leads", "lead": {"industry": ["finance"]}}
    created = await api.http.put("/v1/segments/finance", json=finance, headers=api.admin)
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "finance", "description": "finance leads",
                              "product": None, "kept_in": "api"}  # fmt: skip
    again = await api.http.put("/v1/segments/finance", json=finance, headers=api.admin)
    assert again.status_code == 200
    view = (await api.http.get("/v1/segments/finance", headers=api.admin)).json()
    assert view["count"] == 5 and view["definition"]["lead"] == {"industry": ["finance"]}
    first = (await api.http.get("/v1/segments/finance/leads?limit=3", headers=api.admin)).json()
    assert first == {"lead_ids": ids[:3], "next_after": ids[2]}
    rest = await api.http.get(
        f"/v1/segments/finance/leads?limit=3&after={first['next_after']}", headers=api.admin
    )
    assert rest.json() == {"lead_ids": ids[3:], "next_after": None}
    listed = (await api.http.get("/v1/segments", headers=api.admin)).json()
    assert [s["name"] for s in listed] == ["finance"]


async def test_bad_definitions_and_names_are_refused_with_the_fix(api: Api) -> None:
    bad = await api.http.put("/v1/segments/x", json={"stage": ["warm"]}, headers=api.admin)
    assert bad.status_code == 422
    assert "stage is the lead's journey's: name the segment's product" in bad.text
    typo = await api.http.put("/v1/segments/x", json={"stages": ["warm"]}, headers=api.admin)
    assert typo.status_code == 422 and "stages: Extra inputs are not permitted" in typo.text
    name = await api.http.put("/v1/segments/Bad Name", json={"lead": {"industry": ["a"]}},
                              headers=api.admin)  # fmt: skip
    assert name.status_code == 422 and "path.name" in name.text and "pattern" in name.text
    deep: dict[str, object] = {"lead": {"industry": ["a"]}}
    for _ in range(40):
        deep = {"not": deep}
    nested = await api.http.put("/v1/segments/deep", json=deep, headers=api.admin)
    assert nested.status_code == 422 and "nests deeper than 32 levels" in nested.text
    missing = await api.http.get("/v1/segments/nope", headers=api.admin)
    assert missing.status_code == 404 and "no segment 'nope'" in missing.text
    reader = await api.http.get("/v1/segments", headers=api.read)
    assert reader.status_code == 403


async def test_a_named_segment_cannot_be_deleted_and_the_file_wins(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    scenario_copy(settings, tmp_path)
    (settings.scenarios_dir / "segments.yaml").write_text(
        "segments:\n  everyone:\n    product: acme\n", encoding="utf-8"
    )
    base = {"lead": {"industry": ["finance"]}}
    assert (
        await api.http.put("/v1/segments/base", json=base, headers=api.admin)
    ).status_code == 201
    narrow = {"in_segment": "base", "consent": "email"}
    assert (
        await api.http.put("/v1/segments/narrow", json=narrow, headers=api.admin)
    ).status_code == 201
    refused = await api.http.delete("/v1/segments/base", headers=api.admin)
    assert refused.status_code == 409 and "segments narrow name 'base'" in refused.text
    assert (await api.http.delete("/v1/segments/narrow", headers=api.admin)).status_code == 204
    assert (await api.http.delete("/v1/segments/base", headers=api.admin)).status_code == 204
    in_file = await api.http.put("/v1/segments/everyone", json=base, headers=api.admin)
    assert in_file.status_code == 409 and "change it there" in in_file.text
    view = await api.http.get("/v1/segments/everyone", headers=api.admin)
    assert view.json()["kept_in"] == "file" and view.json()["count"] == 0
