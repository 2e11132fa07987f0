"""Segment's and RudderStack's browser SDKs (`@segment/analytics-next`,
`@rudderstack/analytics-js`, from the npm registry) as they are, in Debian's headless
Chromium, pointed at Nurture: each loads its settings from Nurture, and its page views and
tracks reach the store, with a publishable key."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from nurture.api.app import create_app
from nurture.api.auth import create_publishable_key
from nurture.config import Settings
from nurture.store.engine import Store
from nurture.store.models import Event
from tests.helpers.browser import chromium, console_errors, serving, until
from tests.helpers.journeys import rows
from tests.helpers.npm import package_folder
from tests.helpers.processes import free_port


def site(api: str, key: str) -> FastAPI:
    """A page that loads analytics-next from its own server (as a bundler would ship it)."""
    app = FastAPI()
    umd = package_folder("@segment/analytics-next") / "dist" / "umd"
    rudder = package_folder("@rudderstack/analytics-js") / "dist/npm/modern/bundled/umd"

    @app.get("/sdk/{name}")
    async def sdk(name: str) -> FileResponse:
        return FileResponse(umd / name, media_type="application/javascript")

    @app.get("/rudder.js")
    async def rudder_sdk() -> FileResponse:
        return FileResponse(rudder / "index.js", media_type="application/javascript")

    @app.get("/seminars")
    async def seminars() -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><title>Seminars</title><link rel="icon" href="data:,">'
            '<script src="/rudder.js"></script><script>'
            "const rudder = new rudderanalytics.RudderAnalytics();"
            f'rudder.load("{key}", "{api}", {{configUrl: "{api}/v1"}});'
            'rudder.page(); rudder.track("Seminar Booked", {seats: 3});</script>'
        )

    @app.get("/pricing")
    async def pricing() -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><title>Pricing</title><link rel="icon" href="data:,">'
            '<script src="/sdk/index.js"></script>'
            "<script>const analytics = AnalyticsNext.AnalyticsBrowser.load("
            f'{{writeKey: "{key}", cdnURL: "{api}"}});'
            'analytics.page(); analytics.track("Seminar Booked", {seats: 2});</script>'
        )

    return app


async def test_segment_analytics_next_delivers_page_views_and_tracks(
    settings: Settings, store: Store
) -> None:
    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    key = create_publishable_key(store, "site", [origin], [])
    with serving(create_app(settings, relay=False)) as api:
        settings.public_base_url = api
        with serving(site(api, key), port=site_port):
            await asyncio.to_thread(browse, origin, store)


def browse(origin: str, store: Store) -> None:
    with chromium() as driver:
        driver.get(f"{origin}/pricing")
        events = until(lambda: len(rows(store, Event)) >= 2 and rows(store, Event))
        types = sorted(e.type for e in events)
        assert types == ["page_view", "seminar_booked"], types
        assert len({e.anonymous_id for e in events}) == 1
        assert console_errors(driver) == []
        driver.get(f"{origin}/seminars")  # RudderStack, on the same site
        events = until(lambda: len(rows(store, Event)) >= 4 and rows(store, Event))
        rudder = [e for e in events if (e.url or "").endswith("/seminars") or e.id > 2]
        assert sorted(e.type for e in rudder) == ["page_view", "seminar_booked"], rudder
        assert console_errors(driver) == []
