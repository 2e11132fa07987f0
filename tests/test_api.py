"""The HTTP API against the time-skipping server and a real store: what a tracker, a backend,
sales and a lead clicking 'unsubscribe' would see."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture import send_gate
from nurture.api.app import create_app
from nurture.api.auth import create_api_key, revoke_api_keys
from nurture.config import Settings
from nurture.db import Lead
from nurture.journey import JourneyState
from nurture.relay import relay_once
from nurture.store import Store
from nurture.unsubscribe import sign_unsubscribe
from tests.conftest import Api
from tests.test_journey import advance_to_weekday_noon_tokyo, eventually

LEAD = {
    "email": "Aiko@Example.jp", "external_id": "crm-42", "first_name": "Aiko",
    "industry": "saas", "company_size": 120, "products": ["acme"],
    "consent": {"basis": "opt_in_form", "wording": "Send me news"},
}  # fmt: skip


async def test_keys_are_required_and_scoped(api: Api) -> None:
    missing = await api.http.post("/v1/track", json={})
    assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
    wrong = await api.http.post("/v1/track", json={}, headers={"Authorization": "Bearer nk_x"})
    assert wrong.status_code == 401
    forbidden = await api.http.get("/v1/leads/ld_x", headers=api.ingest)
    assert forbidden.status_code == 403 and "'admin' scope" in forbidden.json()["detail"]


async def test_a_lead_is_upserted_idempotently_and_its_journey_started_once(
    env: WorkflowEnvironment, api: Api, worker: Worker
) -> None:
    first = await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["created"] and body["journeys"][0]["started"]
    again = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()
    assert again["lead_id"] == body["lead_id"] and not again["created"]
    assert "already exists" in again["journeys"][0]["message"]

    view = await api.http.get(f"/v1/leads/{body['lead_id']}", headers=api.admin)
    assert view.status_code == 200
    assert view.json()["email"] == "aiko@example.jp"
    state = JourneyState.model_validate(view.json()["journeys"]["acme"])
    assert state.lifecycle == "nurturing"


async def test_tracker_events_reach_the_journey_once_and_pages_map_to_products(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    await advance_to_weekday_noon_tokyo(env, 2)
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()["lead_id"]
    page = {
        "type": "page", "messageId": "m-1", "userId": "crm-42",
        "context": {"page": {"url": "https://acme.example/pricing?utm=x"}},
        "timestamp": "2026-11-20T10:00:00Z",
    }  # fmt: skip
    accepted = await api.http.post("/v1/page", json=page, headers=api.ingest)
    assert accepted.json() == {"accepted": 1, "new": 1, "duplicates": 0, "replayed": 0}
    retry = await api.http.post("/v1/page", json=page, headers=api.ingest)
    assert retry.json()["duplicates"] == 1
    track = {"type": "track", "messageId": "m-2", "userId": "crm-42", "event": "Webinar Attended"}
    await api.http.post("/v1/track", json=track, headers=api.ingest)

    assert (await relay_once(store, client)).delivered == 2
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    st = await eventually(handle, lambda s: s.score.behavior > 0)
    assert {r.rule for r in st.score.rules} >= {"pricing_page", "webinar_attended"}


async def test_identify_links_earlier_anonymous_visits(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()["lead_id"]
    visits = [
        {"type": "page", "messageId": f"v-{i}", "anonymousId": "anon-1",
         "context": {"page": {"url": "https://acme.example/product/tour"}}}
        for i in range(3)
    ]  # fmt: skip
    result = await api.http.post(
        "/v1/batch",
        json={"batch": [*visits, {"type": "identify", "messageId": "i-1",
                                  "anonymousId": "anon-1", "userId": "crm-42"}]},
        headers=api.ingest,
    )  # fmt: skip
    assert result.json()["replayed"] == 3, result.text
    assert (await relay_once(store, client)).delivered == 3
    st = await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: any(r.rule == "product page 3+ times in 14 days" for r in s.score.rules),
    )
    assert st.score.behavior >= 30


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/v1/track", {"type": "track", "userId": "u", "event": "X"}, 422, "messageId"),
        ("/v1/track", {"messageId": "m", "event": "X"}, 422, "userId or anonymousId"),
        (
            "/v1/track",
            {"messageId": "m", "userId": "u", "event": "X", "timestamp": "yesterday"},
            422,
            "timestamp",
        ),
        (
            "/v1/track",
            {"messageId": "m", "userId": "u", "event": "X", "properties": {"blob": "x" * 40_000}},
            413,
            "32768 byte limit",
        ),
        ("/v1/batch", {"batch": [{"type": "alias", "messageId": "m"}]}, 422, "track, page or"),
        ("/v1/leads", {"email": "not-an-email"}, 422, "email"),
        ("/v1/leads", {"email": "a@example.com", "timezone": "Tokyo"}, 422, "IANA"),
        ("/v1/leads", {"email": "a@example.com", "company_size": 2**63}, 422, "company_size"),
    ],
)
async def test_bad_input_gets_a_4xx_that_says_what_is_wrong(
    api: Api, path: str, body: dict, status: int, says: str
) -> None:
    response = await api.http.post(path, json=body, headers=api.ingest)
    assert response.status_code == status, response.text
    assert says in response.text


async def test_feedback_that_makes_no_sense_is_a_409_with_the_reason(
    api: Api, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()["lead_id"]
    won = {"product": "acme", "outcome": "won"}
    response = await api.http.post(f"/v1/leads/{lead_id}/feedback", json=won, headers=api.ingest)
    assert response.status_code == 409
    assert "'won' applies only to leads that are" in response.json()["detail"]
    missing = await api.http.post("/v1/leads/ld_nobody/feedback", json=won, headers=api.ingest)
    assert missing.status_code == 404


async def test_one_click_unsubscribe_suppresses_at_once_and_tells_the_journey(
    env: WorkflowEnvironment, client: Client, api: Api, settings: Settings, store: Store,
    worker: Worker,
) -> None:  # fmt: skip
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()["lead_id"]
    token = sign_unsubscribe(lead_id, "acme", settings.secret_key)
    page = await api.http.get(f"/v1/unsubscribe/{token}")
    assert page.status_code == 200 and "Unsubscribe from all emails from Acme" in page.text
    done = await api.http.post(f"/v1/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "set-cookie" not in done.headers
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert send_gate.suppression_reason(session, lead, "acme", "step") is not None
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    await eventually(handle, lambda s: s.lifecycle == "unsubscribed")
    forged = await api.http.post(
        f"/v1/unsubscribe/{token[:-2]}xx", data={"List-Unsubscribe": "One-Click"}
    )
    assert forged.status_code == 404


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"store": "ok", "temporal": "ok"}


async def test_an_unreachable_store_answers_503_so_trackers_retry(settings: Settings) -> None:
    settings.database_url = "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"
    app = create_app(settings, relay=False)  # no lifespan: it would refuse to start
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nurture") as http:
        body = {"type": "track", "messageId": "m", "userId": "u", "event": "X"}
        response = await http.post("/v1/track", json=body, headers={"Authorization": "Bearer k"})
    assert response.status_code == 503
    assert "nothing was accepted" in response.json()["detail"]
    assert response.headers["retry-after"] == "5"


async def test_identify_by_email_links_but_never_rewrites_a_known_lead(
    api: Api, store: Store, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()["lead_id"]
    body = {"type": "identify", "messageId": "i-9", "anonymousId": "a-9", "userId": "other-id",
            "traits": {"email": "aiko@example.jp"}}  # fmt: skip
    assert (await api.http.post("/v1/identify", json=body, headers=api.ingest)).status_code == 200
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert (lead.external_id, lead.first_name) == ("crm-42", "Aiko")


@pytest.mark.parametrize("product", ["acme/", "./acme", "ACME", "x" * 300])
async def test_product_names_are_slugs(api: Api, product: str) -> None:
    response = await api.http.post(
        "/v1/leads", json={**LEAD, "products": [product]}, headers=api.ingest
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"type": "track", "messageId": "m1", "userId": "u", "event": "X",
         "properties": {"product": "p" * 100}},
        {"type": "track", "messageId": "m2", "userId": "u" * 120, "event": "X"},
        {"type": "page", "messageId": "m" * 120, "userId": "u",
         "context": {"page": {"url": "https://acme.example/pricing"}}},
        {"type": "track", "messageId": "m4", "userId": "u", "event": "X",
         "properties": {"url": "https://acme.example/\\u0000x"}},
    ],
)  # fmt: skip
async def test_long_or_odd_tracker_values_never_cause_a_5xx(api: Api, body: dict) -> None:
    response = await api.http.post(f"/v1/{body['type']}", json=body, headers=api.ingest)
    assert response.status_code < 500, response.text


async def test_a_batch_with_a_bad_identify_stores_nothing(api: Api, store: Store) -> None:
    batch = {"batch": [
        {"type": "track", "messageId": "b1", "anonymousId": "a", "event": "X"},
        {"type": "identify", "messageId": "b2", "anonymousId": "a", "traits": {"email": "nope"}},
    ]}  # fmt: skip
    response = await api.http.post("/v1/batch", json=batch, headers=api.ingest)
    assert response.status_code == 422 and "traits.email" in response.text
    retry = await api.http.post("/v1/track", json=batch["batch"][0], headers=api.ingest)
    assert retry.json()["new"] == 1  # it had not been stored


async def test_a_revoked_key_stops_working(api: Api, store: Store) -> None:
    key = create_api_key(store, "old tracker", ["ingest"])
    headers = {"Authorization": f"Bearer {key}"}
    body = {"type": "track", "messageId": "r1", "anonymousId": "a", "event": "X"}
    assert (await api.http.post("/v1/track", json=body, headers=headers)).status_code == 200
    assert revoke_api_keys(store, "old tracker") == 1
    refused = await api.http.post("/v1/track", json=body, headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


async def test_events_tracked_before_the_backend_creates_the_lead_reach_its_journey(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    """The site knows the CRM id (userId) before the CRM sync calls /v1/leads."""
    early = [
        {"type": "page", "messageId": f"e-{i}", "userId": "crm-42",
         "context": {"page": {"url": "https://acme.example/product/tour"}}}
        for i in range(3)
    ]  # fmt: skip
    stored = await api.http.post("/v1/batch", json={"batch": early}, headers=api.ingest)
    assert stored.json()["new"] == 3, stored.text
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)).json()["lead_id"]

    assert (await relay_once(store, client)).delivered == 3
    st = await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: any(r.rule == "product page 3+ times in 14 days" for r in s.score.rules),
    )
    assert st.score.behavior >= 30
    # repeating the call neither re-delivers nor restarts anything
    await api.http.post("/v1/leads", json=LEAD, headers=api.ingest)
    assert (await relay_once(store, client)).delivered == 0
