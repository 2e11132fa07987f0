"""The dashboard over HTTP: sign-in with an admin key, the session cookie, CSRF, no open
redirect, revocation, the security headers, both languages, and pages with the reports'
figures. (tests/dashboard/test_browser.py drives the same pages in Chromium.)"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from nurture.api.auth import create_api_key, revoke_api_keys
from nurture.store.engine import LeadIn, Store
from nurture.store.models import StageChange
from tests.helpers.analytics import ab_arms, sent_row
from tests.helpers.api import Api, sign_in, token_of
from tests.helpers.paths import CONSENT


async def test_pages_need_a_session_and_an_admin_key(api: Api, store: Store) -> None:
    answer = await api.http.get("/dashboard/products/acme")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/login?next=/dashboard/products/acme"
    reader = create_api_key(store, "viewer", ["read"])
    refused = await sign_in(api.http, reader)
    assert refused.status_code == 401 and "lacks the admin scope" in refused.text
    assert "nurture_session" not in refused.headers.get("set-cookie", "")
    admin = create_api_key(store, "boss", ["admin"])
    signed = await sign_in(api.http, admin, "/dashboard/products/acme")
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard/products/acme"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert admin not in cookie  # the cookie names the key by its hash only
    page = await api.http.get("/dashboard/products/acme")
    assert page.status_code == 200 and "Funnel per track" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    # Revoking the key ends its sessions.
    revoke_api_keys(store, "boss")
    assert (await api.http.get("/dashboard")).status_code == 303


async def test_forms_are_csrf_safe_and_never_redirect_elsewhere(api: Api, store: Store) -> None:
    admin = create_api_key(store, "boss", ["admin"])
    forged = await api.http.post("/dashboard/login", data={"key": admin, "csrf": "1.forged"})
    assert forged.status_code == 401 and "form expired" in forged.text
    away = await sign_in(api.http, admin, next="https://evil.example/")
    assert away.headers["location"] == "/dashboard"
    away = await sign_in(api.http, admin, next="/dashboard//evil.example")
    assert away.headers["location"] == "/dashboard"
    page = await api.http.get("/dashboard")
    # Signing out needs the session's token: a cross-site form cannot sign anyone out.
    assert (await api.http.post("/dashboard/logout", data={"csrf": "x"})).status_code == 303
    assert (await api.http.get("/dashboard")).status_code == 200
    out = await api.http.post("/dashboard/logout", data={"csrf": token_of(page.text)})
    assert out.headers["location"] == "/dashboard/login"
    assert (await api.http.get("/dashboard")).status_code == 303
    form = {"content-type": "application/x-www-form-urlencoded"}
    huge = await api.http.post("/dashboard/login", content=b"k=" + b"x" * 10_000, headers=form)
    assert huge.status_code == 413


async def test_the_product_page_shows_the_reports_figures(api: Api, store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="reader@example.jp", company="Kato Seiki",
                                       consent=CONSENT))  # fmt: skip
    at = datetime.now(UTC) - timedelta(days=2)
    ab_arms(store, (5, 40), per_arm=100, at=at)  # the guide's B arm wins
    with store.session() as session:
        session.add(sent_row("p1", lead.id, at, subject="Welcome <b>Aiko</b>"))
        session.add(StageChange(journey_id=f"journey:acme:{lead.id}", seq=1, lead_id=lead.id,
                                product="acme", from_stage=None, to_stage="warm", score=30,
                                track="cold", journey_time=at))  # fmt: skip
    await sign_in(api.http, create_api_key(store, "boss", ["admin"]))
    overview = await api.http.get("/dashboard")
    assert re.search(
        r"acme</small></td>\s*<td class=\"num\">\d+</td><td class=\"num\">201<", overview.text
    )
    page = (await api.http.get("/dashboard/products/acme")).text
    assert "<h3>cold/guide</h3>" in page and "<strong>winner</strong> (B)" in page
    block = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page)
    assert block is not None
    charts = json.loads(block.group(1))  # what the page's script draws: the funnel report's
    [cold] = charts["funnels"]
    assert cold["track"] == "cold" and cold["labels"][:3] == [
        "entered",
        "step: welcome",
        "step: guide",
    ]
    assert cold["values"][:3] == [201, 1, 200]
    english_lead = await api.http.get(f"/dashboard/leads/{lead.id}")
    assert "Kato Seiki" in english_lead.text
    assert "Welcome &lt;b&gt;Aiko&lt;/b&gt;" in english_lead.text  # autoescaped
    assert "start → warm" in english_lead.text
    japanese = await api.http.get("/dashboard/products/acme", params={"lang": "ja"})
    assert "トラック別ファネル" in japanese.text and 'lang="ja"' in japanese.text
    assert "nurture_lang=ja" in japanese.headers["set-cookie"]
    assert "トラック別ファネル" in (await api.http.get("/dashboard/products/acme")).text
    missing = await api.http.get("/dashboard/leads/ld_nobody")
    assert missing.status_code == 404
