"""The HTTP API against the time-skipping server and a real store: what a tracker, a backend,
sales and a lead clicking 'unsubscribe' would see."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from typer.testing import CliRunner

from nurture.api.app import create_app
from nurture.api.auth import create_api_key, revoke_api_keys
from nurture.cli.app import app as cli
from nurture.config import Settings
from nurture.journey.contract import JourneyState
from nurture.sending import gate as send_gate
from nurture.sending.unsubscribe_tokens import sign_unsubscribe
from nurture.store.engine import Store
from nurture.store.models import Event, Lead
from nurture.store.relay import relay_once
from tests.helpers.api import LEAD, Api
from tests.helpers.history_text import decoded_history
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually


async def test_keys_are_required(api: Api) -> None:
    missing = await api.http.post("/v1/track", json={})
    assert missing.status_code == 401 and "missing API key" in missing.json()["detail"]
    wrong = await api.http.post("/v1/track", json={}, headers={"Authorization": "Bearer nk_x"})
    assert wrong.status_code == 401


SCOPED_ROUTES = [
    ("POST", "/v1/track", "ingest"),
    ("POST", "/v1/page", "ingest"),
    ("POST", "/v1/identify", "ingest"),
    ("POST", "/v1/batch", "ingest"),
    ("POST", "/v1/leads", "leads"),
    ("POST", "/v1/leads/batch", "leads"),
    ("POST", "/v1/leads/ld_x/feedback", "feedback"),
    ("GET", "/v1/leads/ld_x", "read"),
]


@pytest.mark.parametrize("held", ["ingest", "leads", "feedback", "read", "admin"])
async def test_each_scope_opens_only_its_own_routes(api: Api, held: str) -> None:
    """A tracker key (in every visitor's browser) cannot disqualify or 'win' leads, record
    consent or read journeys; admin can do everything."""
    for method, path, needed in SCOPED_ROUTES:
        body: dict[str, Any] | None = None if method == "GET" else {}
        response = await api.http.request(method, path, json=body, headers=getattr(api, held))
        if held in (needed, "admin"):
            assert response.status_code not in (401, 403), (path, response.text)
        else:
            assert response.status_code == 403, (path, response.text)
            assert f"lacks the {needed!r} scope" in response.json()["detail"]


def test_apikey_create_lists_the_scopes_and_refuses_unknown_ones() -> None:
    help_text = CliRunner().invoke(cli, ["apikey", "create", "--help"], terminal_width=200)
    refused = CliRunner().invoke(cli, ["apikey", "create", "--name", "x", "--scope", "sales"])
    assert refused.exit_code == 2
    for scope in ("ingest", "leads", "feedback", "read", "admin"):
        assert f"{scope}:" in " ".join(help_text.output.split())
        assert f"{scope}:" in " ".join(refused.output.split())
    assert "unknown scope(s) 'sales'" in refused.output


async def test_a_lead_is_upserted_idempotently_and_its_journey_started_once(
    env: WorkflowEnvironment, api: Api, worker: Worker
) -> None:
    first = await api.http.post("/v1/leads", json=LEAD, headers=api.leads)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["created"] and body["journeys"][0]["started"]
    again = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()
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
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    page = {
        "type": "page",
        "messageId": "m-1",
        "userId": "crm-42",
        "context": {"page": {"url": "https://acme.example/pricing?utm=x"}},
        "timestamp": "2026-11-20T10:00:00Z",
    }
    accepted = await api.http.post("/v1/page", json=page, headers=api.ingest)
    assert accepted.json() == {
        "accepted": 1,
        "new": 1,
        "duplicates": 0,
        "replayed": 0,
        "other_products": 0,
        "identifies_refused": 0,
    }
    retry = await api.http.post("/v1/page", json=page, headers=api.ingest)
    assert retry.json()["duplicates"] == 1
    track = {"type": "track", "messageId": "m-2", "userId": "crm-42", "event": "Webinar Attended"}
    await api.http.post("/v1/track", json=track, headers=api.ingest)

    assert (await relay_once(store, client)).delivered == 2
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    st = await eventually(handle, lambda s: s.score.behavior > 0)
    assert {r.rule for r in st.score.rules} >= {"pricing_page", "webinar_attended"}


async def test_personal_data_from_trackers_reaches_neither_the_store_nor_the_history(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    """Trackers send what the page had (a form's `?email=`, `phone`): journeys' histories,
    which every operator reads and no erasure rewrites, get only what the scenario names."""
    await advance_to_weekday_noon_tokyo(env, 2)
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    phone = "+81-90-1234-5678"
    url = f"https://acme.example/pricing?email=aiko%40example.jp&utm_source=news&id=7#{phone}"
    personal = {"email": "aiko@example.jp", "phone": phone, "search": "?email=aiko%40example.jp"}
    batch = [
        {
            "type": "page",
            "messageId": "p-1",
            "userId": "crm-42",
            "name": "Pricing",
            "context": {"page": {"url": url}},
            "properties": personal,
        },
        {
            "type": "track",
            "messageId": "t-1",
            "userId": "crm-42",
            "event": "Document Download",
            "properties": {**personal, "url": url, "document": "expense-guide", "product": "acme"},
        },
    ]
    accepted = await api.http.post("/v1/batch", json={"batch": batch}, headers=api.ingest)
    assert accepted.json()["new"] == 2, accepted.text
    with store.session() as session:
        stored = json.dumps([(e.url, e.properties) for e in session.scalars(select(Event))])
    assert "example.jp" not in stored and "1234-5678" not in stored, stored

    assert (await relay_once(store, client)).delivered == 2
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    await eventually(
        handle, lambda s: {"pricing_page", "document_download"} <= {r.rule for r in s.score.rules}
    )
    history = decoded_history(await handle.fetch_history())
    for leak in ("example.jp", "aiko%40", "1234-5678"):
        assert leak not in history, f"{leak!r} leaked into the journey history"
    assert "https://acme.example/pricing?utm_source=news" in history  # campaigns still count
    assert "expense-guide" in history  # what sales is shown of a download


async def test_identify_links_earlier_anonymous_visits(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    visits = [
        {
            "type": "page",
            "messageId": f"v-{i}",
            "anonymousId": "anon-1",
            "context": {"page": {"url": "https://acme.example/product/tour"}},
        }
        for i in range(3)
    ]
    result = await api.http.post(
        "/v1/batch",
        json={
            "batch": [
                *visits,
                {
                    "type": "identify",
                    "messageId": "i-1",
                    "anonymousId": "anon-1",
                    "userId": "crm-42",
                },
            ]
        },
        headers=api.ingest,
    )
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
        ("/v1/batch", {"batch": [{"type": "merge", "messageId": "m"}]}, 422, "track, page or"),
        ("/v1/batch", {"batch": [{"type": "group", "messageId": "g"}]}, 422, "at least 1 item"),
        ("/v1/leads", {"email": "not-an-email"}, 422, "email"),
        (
            "/v1/leads",
            {"email": "aiko@@example.com"},
            422,
            "email 'aiko@@example.com' is not a valid address: The part after the @-sign "
            "contains invalid characters: '@'.",
        ),
        (
            "/v1/identify",
            {"messageId": "m", "userId": "u", "traits": {"email": "aiko@@example.com"}},
            422,
            "traits.email: email 'aiko@@example.com' is not a valid address: The part after",
        ),
        ("/v1/leads", {"email": "a@example.com", "timezone": "Tokyo"}, 422, "IANA"),
        ("/v1/leads", {"email": "a@example.com", "products": ["nope"]}, 404, "no scenario"),
        ("/v1/track", {"messageId": "m", "userId": "u", "event": "X", "sentAt": 0}, 422, "RFC"),
        ("/v1/leads", {"email": "a@example.com", "company_size": 2**63}, 422, "company_size"),
    ],
)
async def test_bad_input_gets_a_4xx_that_says_what_is_wrong(
    api: Api, path: str, body: dict, status: int, says: str
) -> None:
    headers = api.leads if path.startswith("/v1/leads") else api.ingest
    response = await api.http.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.text


async def test_feedback_that_makes_no_sense_is_a_409_with_the_reason(
    api: Api, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    won = {"product": "acme", "outcome": "won"}
    response = await api.http.post(f"/v1/leads/{lead_id}/feedback", json=won, headers=api.feedback)
    assert response.status_code == 409
    assert "'won' applies only to leads that are" in response.json()["detail"]
    missing = await api.http.post("/v1/leads/ld_nobody/feedback", json=won, headers=api.feedback)
    assert missing.status_code == 404


async def test_one_click_unsubscribe_suppresses_at_once_and_tells_the_journey(
    env: WorkflowEnvironment,
    client: Client,
    api: Api,
    settings: Settings,
    store: Store,
    worker: Worker,
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
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
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    body = {
        "type": "identify",
        "messageId": "i-9",
        "anonymousId": "a-9",
        "userId": "other-id",
        "traits": {"email": "aiko@example.jp"},
    }
    assert (await api.http.post("/v1/identify", json=body, headers=api.ingest)).status_code == 200
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert (lead.external_id, lead.first_name) == ("crm-42", "Aiko")


@pytest.mark.parametrize(
    ("field", "trait", "value", "says"),
    [
        (
            "first_name",
            "firstName",
            "Aiko\r\nBcc: all@example.com",
            "first_name contains a line break (CR/LF); names must be one line of text",
        ),
        (
            "company",
            "company",
            "Example\nManufacturing",
            "company contains a line break (CR/LF); company names must be one line of text",
        ),
    ],
)
async def test_a_line_break_in_a_lead_is_refused_on_every_way_in(
    api: Api, store: Store, field: str, trait: str, value: str, says: str
) -> None:
    """Once stored, it made every email of the lead impossible to build: its journey froze."""
    bad = {"email": "aiko@example.jp", field: value}
    one = await api.http.post("/v1/leads", json=bad, headers=api.leads)
    assert one.status_code == 422, one.text
    assert one.json()["problems"] == [{"where": field, "problem": says}]
    many = await api.http.post(
        "/v1/leads/batch", json=[{"email": "ken@example.jp"}, bad], headers=api.leads
    )
    assert many.status_code == 422, many.text
    assert many.json()["problems"] == [{"where": f"1.{field}", "problem": says}]
    body = {
        "type": "identify",
        "messageId": "i-1",
        "userId": "crm-7",
        "traits": {"email": "aiko@example.jp", trait: value},
    }
    identified = await api.http.post("/v1/identify", json=body, headers=api.ingest)
    assert identified.status_code == 422, identified.text
    assert identified.json()["problems"][0]["problem"] == f"identify i-1: traits.{field}: {says}"
    with store.session() as session:
        assert session.scalars(select(Lead)).all() == []


async def test_an_internationalised_address_is_one_lead_on_every_way_in(
    api: Api, store: Store
) -> None:
    """Stored in its normal form, so the tracker's full-width spelling finds the same lead."""
    created = await api.http.post(
        "/v1/leads", json={"email": "愛子@Example.JP", "first_name": "愛子"}, headers=api.leads
    )
    assert created.status_code == 200, created.text
    lead_id = created.json()["lead_id"]
    body = {
        "type": "identify",
        "messageId": "i-2",
        "anonymousId": "a-2",
        "traits": {"email": "愛子@ｅｘａｍｐｌｅ.jp"},
    }
    assert (await api.http.post("/v1/identify", json=body, headers=api.ingest)).status_code == 200
    with store.session() as session:
        assert [(lead.id, lead.email) for lead in session.scalars(select(Lead))] == [
            (lead_id, "愛子@example.jp")
        ]


@pytest.mark.parametrize("product", ["acme/", "./acme", "ACME", "x" * 300])
async def test_product_names_are_slugs(api: Api, product: str) -> None:
    response = await api.http.post(
        "/v1/leads", json={**LEAD, "products": [product]}, headers=api.leads
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "body",
    [
        {
            "type": "track",
            "messageId": "m1",
            "userId": "u",
            "event": "X",
            "properties": {"product": "p" * 100},
        },
        {"type": "track", "messageId": "m2", "userId": "u" * 120, "event": "X"},
        {
            "type": "page",
            "messageId": "m" * 120,
            "userId": "u",
            "context": {"page": {"url": "https://acme.example/pricing"}},
        },
        {
            "type": "track",
            "messageId": "m4",
            "userId": "u",
            "event": "X",
            "properties": {"url": "https://acme.example/\\u0000x"},
        },
    ],
)
async def test_long_or_odd_tracker_values_never_cause_a_5xx(api: Api, body: dict) -> None:
    response = await api.http.post(f"/v1/{body['type']}", json=body, headers=api.ingest)
    assert response.status_code < 500, response.text


async def test_a_batch_with_a_bad_identify_stores_nothing(api: Api, store: Store) -> None:
    batch = {
        "batch": [
            {"type": "track", "messageId": "b1", "anonymousId": "a", "event": "X"},
            {
                "type": "identify",
                "messageId": "b2",
                "anonymousId": "a",
                "traits": {"email": "nope"},
            },
        ]
    }
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
        {
            "type": "page",
            "messageId": f"e-{i}",
            "userId": "crm-42",
            "context": {"page": {"url": "https://acme.example/product/tour"}},
        }
        for i in range(3)
    ]
    stored = await api.http.post("/v1/batch", json={"batch": early}, headers=api.ingest)
    assert stored.json()["new"] == 3, stored.text
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]

    assert (await relay_once(store, client)).delivered == 3
    st = await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: any(r.rule == "product page 3+ times in 14 days" for r in s.score.rules),
    )
    assert st.score.behavior >= 30
    # repeating the call neither re-delivers nor restarts anything
    await api.http.post("/v1/leads", json=LEAD, headers=api.leads)
    assert (await relay_once(store, client)).delivered == 0


class CountedBody:
    """A streamed (chunked) request body that counts what the server pulled from it."""

    def __init__(self, total: int, chunk: int = 4096) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            self.sent += self.chunk
            yield b" " * self.chunk


async def post_routes(api: Api) -> list[str]:
    """Every POST route the API publishes, path parameters filled in."""
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    return [re.sub(r"\{[^}]+\}", "x", path) for path, ops in paths.items() if "post" in ops]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nk_unknown"}])
async def test_an_unauthenticated_huge_body_is_refused_before_it_is_read(
    api: Api, headers: dict[str, str]
) -> None:
    for path in ("/v1/track", "/v1/batch", "/v1/leads", "/v1/leads/batch", "/v1/leads/x/feedback"):
        body = CountedBody(200 * 1024 * 1024)
        response = await api.http.post(path, content=body, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert body.sent == 0, f"{path} read {body.sent} bytes of an unauthenticated body"


async def test_an_oversized_content_length_is_413_on_every_post_route(api: Api) -> None:
    routes = await post_routes(api)
    assert len(routes) >= 10
    for path in routes:
        body = CountedBody(8 * 1024 * 1024)
        headers = {**api.admin, "Content-Length": str(body.total)}
        response = await api.http.post(path, content=body, headers=headers)
        assert response.status_code == 413, (path, response.text)
        assert "byte limit" in response.json()["detail"]
        assert body.sent == 0, f"{path} read {body.sent} bytes of a body it refused"


async def test_a_chunked_body_over_the_limit_stops_being_read_at_the_limit(api: Api) -> None:
    """No Content-Length: the bytes are counted as they arrive, and the answer is 413 as soon
    as they pass the route's limit (a refusal that needs no body, like the webhook's missing
    signature, reads none of it)."""
    for path in await post_routes(api):
        body = CountedBody(8 * 1024 * 1024)
        form = "application/x-www-form-urlencoded" if "unsubscribe" in path else "application/json"
        headers = {**api.admin, "Content-Type": form}
        response = await api.http.post(path, content=body, headers=headers)
        if response.status_code != 413:  # refused before any byte: no key, nothing there
            assert response.status_code in (403, 404) and body.sent == 0, (path, response.text)
        else:
            assert "byte limit" in response.json()["detail"]
            assert body.sent <= 5 * 1024 * 1024 + body.chunk, (path, body.sent)
    track = CountedBody(8 * 1024 * 1024)
    assert (await api.http.post("/v1/track", content=track, headers=api.ingest)).status_code == 413
    assert track.sent <= 32 * 1024 + track.chunk


async def test_a_body_of_exactly_the_limit_is_read(api: Api) -> None:
    body: dict[str, Any] = {
        "type": "track",
        "messageId": "big",
        "anonymousId": "a",
        "event": "X",
        "properties": {"pad": ""},
    }
    body["properties"]["pad"] = "x" * (32 * 1024 - len(json.dumps(body)))
    content = json.dumps(body).encode()
    assert len(content) == 32 * 1024
    headers = {**api.ingest, "Content-Type": "application/json"}
    response = await api.http.post("/v1/track", content=content, headers=headers)
    assert response.status_code == 200, response.text
    over = await api.http.post("/v1/track", content=content + b" ", headers=headers)
    assert over.status_code == 413


@pytest.mark.parametrize(
    "event",
    [
        "Email Bounce",
        "Email Bounced",
        "spam_report",
        "Email Marked as Spam",
        "Unsubscribed",
        "Email Opened",
        "email_click",
        "Dropped",
    ],
)
async def test_a_tracker_cannot_claim_a_bounce_spam_report_or_unsubscribe(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker, event: str
) -> None:
    """Any tracker key could otherwise stop all email to a lead: such facts come only from
    the signed provider webhook or the lead's unsubscribe link."""
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    claim = {"type": "track", "messageId": "fake-1", "userId": "crm-42", "event": event}
    refused = await api.http.post("/v1/track", json=claim, headers=api.ingest)
    assert refused.status_code == 422, refused.text
    assert repr(event) in refused.text and "SendGrid Event Webhook" in refused.text
    real = {"type": "track", "messageId": "real-1", "userId": "crm-42", "event": "Webinar Attended"}
    in_batch = await api.http.post("/v1/batch", json={"batch": [real, claim]}, headers=api.ingest)
    assert in_batch.status_code == 422, in_batch.text

    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert send_gate.suppression_reason(session, lead, "acme", "step") is None
    assert (await relay_once(store, client)).delivered == 0  # the batch stored nothing either
    state = await client.get_workflow_handle(f"journey:acme:{lead_id}").query("state")
    assert JourneyState.model_validate(state).lifecycle == "nurturing"


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_503_answers_never_name_the_database_or_temporal(
    settings: Settings, store: Store
) -> None:
    """The detail (host, port, database URL) is logged; the caller gets a stable message."""
    temporal = f"127.0.0.1:{unused_port()}"
    settings.temporal_address = temporal
    key = {"Authorization": f"Bearer {create_api_key(store, 'ops', ['admin'])}"}
    app = create_app(settings, relay=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http,
    ):
        lead = await http.post("/v1/leads", json=LEAD, headers=key)
        lead_id = lead.json()["detail"].split()[1]
        won = {"product": "acme", "outcome": "won"}
        feedback = await http.post(f"/v1/leads/{lead_id}/feedback", json=won, headers=key)
    for response in (lead, feedback):
        assert response.status_code == 503, response.text
        assert "Temporal is unreachable" in response.text
        assert temporal not in response.text and "127.0.0.1" not in response.text
    assert "stored" in lead.json()["detail"] and "repeat the call" in lead.json()["detail"]

    settings.database_url = "postgresql+psycopg2://nurture:s3cret@127.0.0.1:1/customers"
    app = create_app(settings, relay=False)  # no lifespan: it would refuse to start
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://n"
    ) as http:
        ready = await http.get("/readyz")
        track = await http.post("/v1/track", json={}, headers={"Authorization": "Bearer k"})
    for response in (ready, track):
        assert response.status_code == 503, response.text
        for secret in ("127.0.0.1", "s3cret", "customers", "postgresql", temporal):
            assert secret not in response.text, (secret, response.text)


async def test_a_trackers_snake_case_keys_are_extras_the_spec_allows(api: Api) -> None:
    """Only `userId`, `anonymousId`, `messageId` name who and which: a `user_id` of any
    shape is one of the extra keys trackers send, ignored like the rest."""
    body = {
        "type": "track",
        "event": "Viewed",
        "messageId": "m-snake",
        "anonymousId": "visitor-9",
        "user_id": {"nested": [1]},
        "message_id": 7,
    }
    answer = await api.http.post("/v1/track", json=body, headers=api.ingest)
    assert answer.status_code == 200, answer.text
