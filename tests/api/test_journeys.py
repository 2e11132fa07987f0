"""`/v1/journeys` on a dev server: list and count by query, and bulk actions that are
confirmed by their count, admin only."""

from __future__ import annotations

import httpx

from nurture.api.app import create_app
from nurture.api.auth import create_api_key
from nurture.worker_setup import build_worker
from tests.helpers.devstack import Stack, journeys_shown, start_leads
from tests.helpers.processes import until


async def test_list_count_and_a_bulk_pause_confirmed_by_its_count(stack: Stack) -> None:
    app = create_app(stack.settings, relay=False)
    admin = {"Authorization": f"Bearer {create_api_key(stack.store, 'ops', ['admin'])}"}
    reader = {"Authorization": f"Bearer {create_api_key(stack.store, 'bi', ['read'])}"}
    async with (
        build_worker(stack.client, stack.settings, stack.store),
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http,
    ):
        await start_leads(stack, 4)
        got = await http.get("/v1/journeys/count", params={"product": "acme"}, headers=admin)
        assert got.json() == {"product": "acme", "where": None, "count": 4}
        assert (
            await http.get("/v1/journeys/count?product=acme", headers=reader)
        ).status_code == 403

        page = await http.get(
            "/v1/journeys", params={"product": "acme", "page_size": 3}, headers=admin
        )
        body = page.json()
        assert page.status_code == 200 and len(body["journeys"]) == 3 and body["next_page_token"]
        first = body["journeys"][0]
        assert {k: first[k] for k in ("product", "stage", "lifecycle", "track")} == {
            "product": "acme",
            "stage": "cold",
            "lifecycle": "nurturing",
            "track": "cold",
        }
        assert first["next_touch_at"] and "email" not in str(first)
        more = await http.get(
            "/v1/journeys",
            params={"product": "acme", "page_token": body["next_page_token"]},
            headers=admin,
        )
        assert len(more.json()["journeys"]) == 1
        forged = await http.get(
            "/v1/journeys", params={"product": "acme", "page_token": "00ff.00"}, headers=admin
        )
        assert forged.status_code == 422
        assert "not one this list gave out" in forged.json()["problems"][0]["problem"]

        bad = await http.get(
            "/v1/journeys/count",
            params={"product": "acme", "where": "LeadStage = ("},
            headers=admin,
        )
        assert bad.status_code == 422 and "unbalanced" in bad.json()["problems"][0]["problem"]
        unknown = await http.get(
            "/v1/journeys/count", params={"product": "acme", "where": "Nope = 1"}, headers=admin
        )
        assert unknown.status_code == 422
        assert "the query was refused" in unknown.json()["problems"][0]["problem"]

        wrong = await http.post(
            "/v1/journeys/pause", json={"product": "acme", "expected": 40}, headers=admin
        )
        assert wrong.status_code == 409
        assert "matches 4 running journeys, not the 40 expected" in wrong.json()["detail"]

        started = await http.post(
            "/v1/journeys/pause",
            json={"product": "acme", "expected": 4, "reason": "incident 42"},
            headers=admin,
        )
        assert started.status_code == 202, started.text
        job = started.json()["job_id"]

        async def done() -> bool:
            status = await http.get(f"/v1/journeys/batches/{job}", headers=admin)
            return status.json()["state"] == "completed"

        await until(done, timeout=60)
        status = (await http.get(f"/v1/journeys/batches/{job}", headers=admin)).json()
        assert (status["action"], status["total"], status["done"], status["failed"]) == (
            "pause",
            4,
            4,
            0,
        )
        await journeys_shown(stack, 0, "NextTouchAt IS NOT NULL")
        nope = await http.post(
            "/v1/journeys/erase", json={"product": "acme", "expected": 4}, headers=admin
        )
        assert nope.status_code == 404  # pause, resume and stop only
