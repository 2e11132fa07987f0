"""Tracker calls from web pages with a publishable key: CORS by origin, nothing else the key
can do, text/plain bodies (what the browser SDKs and sendBeacon send), rate limits, and the
products it covers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from nurture.api.auth import create_publishable_key
from nurture.api.browsers import PER_ADDRESS, RateLimits
from nurture.config import Settings
from nurture.sending.tracking_tokens import click_token
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Event, EventDelivery, Lead
from tests.helpers.analytics import sent_row
from tests.helpers.api import LEAD, Api
from tests.helpers.journeys import rows
from tests.helpers.paths import CONSENT
from tests.helpers.processes import run_starter

SITE = "https://www.acme.example"
PAGE = {
    "type": "page",
    "messageId": "web-1",
    "anonymousId": "visitor-1",
    "context": {"page": {"url": "https://acme.example/pricing"}},
}


def published(store: Store, products: list[str] | None = None) -> dict[str, str]:
    key = create_publishable_key(store, "website", [SITE], products or [])
    return {"Authorization": f"Bearer {key}"}


async def test_a_page_on_a_listed_origin_may_call_the_tracker_routes(
    api: Api, store: Store
) -> None:
    key = published(store)
    preflight = await api.http.options(
        "/v1/page",
        headers={"Origin": SITE, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert preflight.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in preflight.headers
    # sendBeacon and the SDKs send JSON as text/plain.
    beacon = {**key, "Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"}
    sent = await api.http.post("/v1/page", content=json.dumps(PAGE), headers=beacon)
    assert sent.status_code == 200, sent.text
    assert sent.json()["new"] == 1
    assert sent.headers["access-control-allow-origin"] == SITE
    assert [e.type for e in rows(store, Event)] == ["pricing_page"]


async def test_other_origins_and_other_routes_are_refused(api: Api, store: Store) -> None:
    key = published(store)
    elsewhere = "https://evil.example"
    preflight = await api.http.options("/v1/page", headers={"Origin": elsewhere})
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    refused = await api.http.post("/v1/page", json=PAGE, headers={**key, "Origin": elsewhere})
    assert refused.status_code == 403 and "not for the origin https://evil.example" in refused.text
    no_origin = await api.http.post("/v1/page", json=PAGE, headers=key)  # curl, a server
    assert no_origin.status_code == 403
    lead = await api.http.post("/v1/leads", json=LEAD, headers={**key, "Origin": SITE})
    assert lead.status_code == 403 and "lacks the 'leads' scope" in lead.text
    reports = await api.http.get("/v1/reports/engagement", headers={**key, "Origin": SITE})
    assert reports.status_code == 403
    assert rows(store, Event) == []


async def test_events_of_products_the_key_does_not_cover_are_not_stored(
    api: Api, store: Store
) -> None:
    key = published(store, ["cloudbook"])
    track = {"type": "track", "messageId": "t-1", "anonymousId": "v", "event": "Seminar Booked"}
    batch = {"batch": [PAGE, track]}
    sent = await api.http.post("/v1/batch", json=batch, headers={**key, "Origin": SITE})
    assert sent.status_code == 200, sent.text
    # The pricing page maps to acme; the track names no product (site behaviour).
    assert (sent.json()["new"], sent.json()["other_products"]) == (1, 1)
    assert [e.type for e in rows(store, Event)] == ["seminar_booked"]


async def test_a_visitor_sending_faster_than_a_page_can_is_told_to_wait(
    api: Api, store: Store
) -> None:
    key = published(store)
    answers: list[httpx.Response] = []
    # Until the first refusal: the bucket refills while requests are served (20 a second),
    # so how many get through past the burst depends on the machine's speed, not the rule.
    for n in range(int(PER_ADDRESS[1]) * 10):
        page = {**PAGE, "messageId": f"burst-{n}"}
        answers.append(await api.http.post("/v1/page", json=page, headers={**key, "Origin": SITE}))
        if answers[-1].status_code == 429:
            break
    codes = [a.status_code for a in answers]
    assert codes[: int(PER_ADDRESS[1])] == [200] * int(PER_ADDRESS[1]) and codes[-1] == 429
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].headers["access-control-allow-origin"] == SITE  # the page may read it
    assert answers[-1].headers["access-control-expose-headers"] == "Retry-After"


def test_buckets_refill_at_their_rate() -> None:
    limits = RateLimits()
    burst = int(PER_ADDRESS[1])
    assert all(limits.retry_after("k", "1.2.3.4", now=0.0) is None for _ in range(burst))
    assert limits.retry_after("k", "1.2.3.4", now=0.0) == 1
    assert limits.retry_after("k", "5.6.7.8", now=0.0) is None  # another visitor
    assert limits.retry_after("k", "1.2.3.4", now=1.0) is None  # 20 tokens a second later


async def test_apikey_create_and_list_show_kinds_origins_and_limits(
    store: Store, settings: Settings
) -> None:
    code, out = await run_starter(settings, "apikey", "create", "--name", "site",
                                  "--publishable", "--origin", SITE, "--product", "acme",
                                  script="-m nurture.cli")  # fmt: skip
    assert code == 0 and out.strip().startswith("nk_pub_"), out
    code, out = await run_starter(settings, "apikey", "create", "--name", "bad",
                                  "--publishable", "--origin", "https://x.example/path",
                                  script="-m nurture.cli")  # fmt: skip
    assert code == 2 and "not a web origin" in out
    code, out = await run_starter(settings, "apikey", "list", script="-m nurture.cli")
    assert code == 0, out
    assert "publishable" in out and SITE in out and "per visitor" in out


@pytest.mark.parametrize("origin", ["https://WWW.acme.example", "https://acme.example/", "ftp://x"])
def test_origins_are_checked_when_the_key_is_made(store: Store, origin: str) -> None:
    with pytest.raises(ValueError, match="not a web origin"):
        create_publishable_key(store, "site", [origin], [])


async def test_a_page_may_send_its_key_in_the_url_but_not_identify_anyone(
    api: Api, store: Store
) -> None:
    key = published(store)["Authorization"].removeprefix("Bearer ")
    plain = {"Origin": SITE, "Content-Type": "text/plain"}
    beacon = await api.http.post(
        f"/v1/page?writeKey={key}", content=json.dumps(PAGE), headers=plain
    )
    assert beacon.status_code == 200, beacon.text
    identify = {"type": "identify", "messageId": "i-1", "anonymousId": "visitor-1",
                "traits": {"email": "someone@example.jp"}}  # fmt: skip
    refused = await api.http.post(f"/v1/identify?writeKey={key}", json=identify,
                                  headers={"Origin": SITE})  # fmt: skip
    assert refused.status_code == 403 and "only by the token of a Nurture email" in refused.text
    secret = api.ingest["Authorization"].removeprefix("Bearer ")
    leaked = await api.http.post(f"/v1/page?writeKey={secret}", json={**PAGE, "messageId": "x"})
    assert leaked.status_code == 401 and "only a publishable key" in leaked.text


async def test_a_visitor_from_an_email_link_is_identified_by_its_token_only(
    api: Api, store: Store, settings: Settings
) -> None:
    """A click on an email link into the tracked site carries `nt=`; the page's identify
    with it links the visitor (and its earlier visits) to that lead, and only that lead."""
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    at = datetime.now(UTC) - timedelta(hours=1)
    with store.session() as session:
        session.add(sent_row("snd_1", lead.id, at))
    key = published(store)
    link = f"{SITE}/seminars?utm_source=nurture"
    click = await api.http.get(f"/v1/t/c/{click_token('snd_1', link, settings.secret_key)}")
    assert click.status_code == 302
    landed = urlsplit(click.headers["location"])
    [token] = parse_qs(landed.fragment)["nt"]  # in the fragment: never sent to any server
    assert landed.netloc == "www.acme.example" and lead.id not in token
    other = await api.http.get(  # a link to a site without a Nurture tracker: no token
        f"/v1/t/c/{click_token('snd_1', 'https://elsewhere.example/', settings.secret_key)}"
    )
    assert "nt=" not in other.headers["location"]
    anchored = f"{SITE}/seminars#agenda"  # the page's own anchor: left alone, no token
    anchor = await api.http.get(f"/v1/t/c/{click_token('snd_1', anchored, settings.secret_key)}")
    assert anchor.headers["location"] == anchored
    visit = {**PAGE, "anonymousId": "visitor-9", "messageId": "v-1"}
    assert (await api.http.post("/v1/page", json=visit, headers={**key, "Origin": SITE})).is_success
    identify = {"type": "identify", "messageId": "i-9", "anonymousId": "visitor-9",
                "traits": {"email": "someone-else@example.jp"},  # ignored: the token decides
                "context": {"nurture": {"token": token}}}  # fmt: skip
    done = await api.http.post("/v1/identify", json=identify, headers={**key, "Origin": SITE})
    assert done.status_code == 200, done.text
    assert done.json()["replayed"] == 1  # the visit before it now belongs to the lead
    forged = {**identify, "messageId": "i-10", "context": {"nurture": {"token": token[:-2]}}}
    refused = await api.http.post("/v1/identify", json=forged, headers={**key, "Origin": SITE})
    assert refused.status_code == 403
    assert [lead.email for lead in rows(store, Lead)] == ["aiko@example.jp"]


async def test_programs_are_stored_but_reach_no_journey(api: Api, store: Store) -> None:
    """A crawler named by the event (server-side trackers pass `context.userAgent`), and a
    headless browser calling from a page: stored with the reason, owned by no one."""
    crawler = {"type": "page", "messageId": "c-1", "userId": "crm-42",
               "context": {"page": {"url": "https://acme.example/pricing"},
                           "userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}}  # fmt: skip
    lead = await api.http.post("/v1/leads", json=LEAD, headers=api.leads)
    assert lead.is_success
    assert (await api.http.post("/v1/page", json=crawler, headers=api.ingest)).is_success
    headless = {**published(store), "Origin": SITE,
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0"}  # fmt: skip
    assert (await api.http.post("/v1/page", json=PAGE, headers=headless)).is_success
    events = rows(store, Event)
    assert len(events) == 2 and all(e.lead_id is None for e in events)
    assert all(e.anonymous_id and e.anonymous_id.startswith("bot:") for e in events)
    reasons = sorted(e.properties["bot"] for e in events)
    assert "googlebot" in reasons[0].lower() and "headless" in reasons[1].lower()
    assert rows(store, EventDelivery) == []  # nothing queued for any journey


async def test_a_page_cannot_speak_for_a_lead_by_its_user_id(api: Api, store: Store) -> None:
    """The key is public: a CRM id in `userId` (guessable) makes its events a visitor's,
    not the lead's; an identify without an email link's token is dropped from a batch,
    which keeps its other events."""
    assert (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).is_success
    track = {"type": "track", "messageId": "t-9", "userId": "crm-42", "event": "Demo Requested"}
    identify = {"type": "identify", "messageId": "i-9", "userId": "crm-42"}
    sent = await api.http.post("/v1/batch", json={"batch": [track, identify]},
                               headers={**published(store), "Origin": SITE})  # fmt: skip
    assert sent.status_code == 200, sent.text
    assert (sent.json()["new"], sent.json()["identifies_refused"]) == (1, 1)
    [event] = rows(store, Event)
    assert (event.type, event.lead_id, event.anonymous_id) == (
        "demo_requested", None, "page-user:crm-42",
    )  # fmt: skip
    assert rows(store, EventDelivery) == []


async def test_rudderstacks_beacon_batches_are_taken(api: Api, store: Store) -> None:
    """`useBeacon: true`: a text/plain batch to /beacon/v1/batch with the key in the URL."""
    key = published(store)["Authorization"].removeprefix("Bearer ")
    beacon = await api.http.post(
        f"/beacon/v1/batch?writeKey={key}",
        content=json.dumps({"batch": [PAGE], "sentAt": "2026-12-05T10:00:00Z"}),
        headers={"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert beacon.status_code == 200, beacon.text
    assert [e.type for e in rows(store, Event)] == ["pricing_page"]
