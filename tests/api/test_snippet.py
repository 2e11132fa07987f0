"""The first-party tracker (`/v1/nurture.js`) in Debian's headless Chromium, on a page of
another origin: page views with their campaign, `nurture.track()`, a contact form left
unsent, the last events sent by `sendBeacon` as the page goes away, consent, and a page of
an origin its key does not list."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from selenium.webdriver.common.by import By
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.api.app import create_app
from nurture.api.auth import create_publishable_key
from nurture.api.snippet import SNIPPET, integrity
from nurture.config import Settings
from nurture.journey.client import start_journey
from nurture.sending.tracking_tokens import click_token
from nurture.store.engine import Store
from nurture.store.models import Event
from tests.helpers.browser import chromium, console_errors, serving, until
from tests.helpers.journeys import (
    advance_to_weekday_noon_tokyo,
    eventually,
    make_lead,
    rows,
    sends,
)
from tests.helpers.paths import REPO
from tests.helpers.processes import free_port

FORM = '<form data-nurture-form="contact"><input id="name"><button>Send</button></form>'


def site(api: str, keys: dict[str, str], consent: bool = False) -> FastAPI:
    """A web site on its own origin whose pages carry the tag."""
    app = FastAPI()

    @app.get("/{page}")
    async def page(page: str, key: str = "site") -> HTMLResponse:
        ask = ' data-require-consent="true"' if consent else ""
        tag = (f'<script src="{api}/v1/nurture.js" data-key="{keys[key]}"{ask} '
               f'integrity="{integrity()}" crossorigin="anonymous"></script>')  # fmt: skip
        icon = '<link rel="icon" href="data:,">'
        return HTMLResponse(f"<!doctype html><title>{page}</title>{icon}{tag}{FORM}")

    return app


def stored(store: Store) -> list[Event]:
    return sorted(rows(store, Event), key=lambda e: e.id)


def test_the_documented_integrity_is_the_served_files() -> None:
    docs = (REPO / "docs" / "track-your-site.md").read_text()
    assert integrity() in docs, f"docs/track-your-site.md must give {integrity()}"
    digest = base64.b64encode(hashlib.sha384(SNIPPET.read_bytes()).digest()).decode()
    assert integrity() == f"sha384-{digest}" and len(SNIPPET.read_bytes()) < 8_000


async def test_a_site_tracks_its_visitors_with_the_snippet(
    settings: Settings, store: Store
) -> None:
    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    keys = {
        "site": create_publishable_key(store, "site", [origin], []),
        "elsewhere": create_publishable_key(store, "other", ["https://x.example"], []),
    }
    with serving(create_app(settings, relay=False)) as api:
        served = await asyncio.to_thread(httpx.get, f"{api}/v1/nurture.js")
        assert served.headers["access-control-allow-origin"] == "*"
        with serving(site(api, keys), port=site_port):
            await asyncio.to_thread(browse, origin, store)


def browse(origin: str, store: Store) -> None:
    with chromium() as driver:
        driver.get(f"{origin}/pricing?utm_source=newsletter&utm_campaign=autumn")
        [view] = until(lambda: stored(store))
        assert view.type == "page_view" and view.anonymous_id
        assert view.url is not None and view.url.startswith(f"{origin}/pricing")
        visitor = view.anonymous_id
        cookie = driver.get_cookie("nurture_aid")
        assert cookie is not None and cookie["value"] == visitor
        driver.execute_script("nurture.track('Seminar Booked', {seats: 2})")
        driver.find_element(By.ID, "name").send_keys("Aiko")  # the contact form, started ...
        driver.get(f"{origin}/thanks")  # ... and left unsent: sendBeacon as the page goes
        events = until(lambda: [e for e in stored(store) if e.type == "contact_form_abandoned"]
                       and stored(store))  # fmt: skip
        types = [e.type for e in events]
        assert types.count("seminar_booked") == 1 and types.count("contact_form_abandoned") == 1
        assert {e.anonymous_id for e in events} == {visitor}  # one visitor across pages
        assert console_errors(driver) == []
        driver.get(f"{origin}/pricing?key=elsewhere")  # a key that does not list this origin
        driver.get(f"{origin}/thanks")  # its events go (and are refused) as it is left
        until(lambda: sum("/thanks" in (e.url or "") for e in stored(store)) == 2)
        assert not [e for e in stored(store) if "key=elsewhere" in (e.url or "")]


async def test_nothing_is_tracked_or_stored_until_the_visitor_consents(
    settings: Settings, store: Store
) -> None:
    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    keys = {"site": create_publishable_key(store, "site", [origin], [])}
    with (
        serving(create_app(settings, relay=False)) as api,
        serving(site(api, keys, consent=True), port=site_port),
    ):
        await asyncio.to_thread(consenting, origin, store)


def consenting(origin: str, store: Store) -> None:
    with chromium() as driver:
        driver.get(f"{origin}/pricing")
        driver.execute_script("nurture.track('Seminar Booked'); nurture.flush()")
        driver.get(f"{origin}/product")  # leaving sends whatever was queued: nothing
        assert driver.get_cookie("nurture_aid") is None
        driver.execute_script("nurture.consent(true); nurture.flush()")
        [view] = until(lambda: stored(store))
        assert view.type == "page_view" and (view.url or "").endswith("/product")
        assert driver.get_cookie("nurture_aid") is not None


async def test_a_lead_from_an_email_link_is_identified_and_its_journey_moves(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, worker: Worker
) -> None:
    """The issue's walk: a lead's email link (with `nt=`) into the site, a page view, a
    webinar, a contact form left unsent as the visitor goes; each event is stored once, as
    the lead's, and its journey scores them and moves it to the warm track."""
    await advance_to_weekday_noon_tokyo(env, 2)  # inside the send window: the welcome goes
    lead = make_lead(store)
    outcome = await start_journey(client, settings, store, lead, "acme")
    handle = client.get_workflow_handle(outcome.journey_id)
    await eventually(handle, lambda s: s.emails_sent == 1)
    [welcome] = sends(store)
    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    keys = {"site": create_publishable_key(store, "site", [origin], [])}
    settings.temporal_address = client.service_client.config.target_host
    link = click_token(welcome.id, f"{origin}/seminars", settings.secret_key)
    with serving(create_app(settings)) as api, serving(site(api, keys), port=site_port):
        await asyncio.to_thread(walk, f"{api}/v1/t/c/{link}", origin, store)
        st = await eventually(handle, lambda s: s.track == "warm")
    assert st.stage == "warm" and {"webinar_attended", "page_view"} <= {
        r.rule for r in st.score.rules
    }
    events = [e for e in stored(store) if e.type != "email_click"]
    assert sorted(e.type for e in events) == [
        "contact_form_abandoned",
        "page_view",
        "webinar_attended",
    ]
    assert {e.lead_id for e in events} == {lead.id}  # identified by the link's token


def walk(email_link: str, origin: str, store: Store) -> None:
    with chromium() as driver:
        driver.get(email_link)  # our click link redirects into the site with nt=
        until(lambda: any(e.type == "page_view" and e.lead_id for e in stored(store)))
        assert driver.current_url == f"{origin}/seminars"  # the token left the address bar
        driver.execute_script("nurture.track('Webinar Attended')")
        driver.find_element(By.ID, "name").send_keys("Aiko")
        driver.get("about:blank")  # the visitor goes: the last events by sendBeacon
        until(lambda: any(e.type == "contact_form_abandoned" for e in stored(store)))
        assert console_errors(driver) == []
