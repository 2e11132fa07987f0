"""Nurture's own open pixel and click links, end to end: an email sent through the outbox
(as with SMTP, no provider tracks it), opened and clicked by a reader, counted once as
facts, and the click reaching the lead's journey."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.analytics import own_tracking
from nurture.config import Settings
from nurture.store.engine import Store
from nurture.store.models import Engagement, Send
from nurture.store.relay import relay_once
from tests.helpers.api import LEAD, Api
from tests.helpers.journeys import advance_to_weekday_noon_tokyo, eventually

READER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/128.0"}


def welcome_html(settings: Settings) -> str:
    [eml] = (settings.outbox_dir / "acme").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def path_of(html: str, kind: str) -> str:
    found = re.search(rf'(/v1/t/{kind}/[A-Za-z0-9_-]+)"', html)
    assert found is not None, f"no /v1/t/{kind}/ link in the email"
    return found.group(1)


async def test_a_reader_opens_and_clicks_and_the_journey_hears_of_the_click(
    env: WorkflowEnvironment,
    client: Client,
    api: Api,
    store: Store,
    worker: Worker,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(own_tracking, "PREFETCH_SECONDS", 0)  # the test reads at once
    await advance_to_weekday_noon_tokyo(env, 2)
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    await eventually(handle, lambda s: s.emails_sent == 1)
    html = welcome_html(settings)
    assert "acme.example/guide" not in html  # the link goes through us
    assert "/v1/unsubscribe/" in html  # and the unsubscribe link does not

    pixel = await api.http.get(path_of(html, "o"), headers=READER)
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    assert pixel.headers["cache-control"] == "no-store, private"
    click = await api.http.get(path_of(html, "c"), headers=READER)
    assert click.status_code == 302
    assert click.headers["location"] == (
        "https://acme.example/guide?utm_source=nurture&utm_medium=email"
    )

    with store.session() as session:
        facts = session.scalars(select(Engagement).order_by(Engagement.occurred_at)).all()
        assert [(f.kind, f.human, f.source) for f in facts] == [
            ("opened", True, "nurture"),
            ("clicked", True, "nurture"),
        ]
        assert session.scalars(select(Send.status)).one() == "clicked"
    assert (await relay_once(store, client)).delivered == 2
    st = await eventually(handle, lambda s: any(r.rule == "email_click" for r in s.score.rules))
    assert {r.rule for r in st.score.rules} >= {"email_open", "email_click"}


async def test_a_damaged_click_link_leads_nowhere_and_a_damaged_pixel_is_still_a_pixel(
    api: Api, store: Store
) -> None:
    broken = await api.http.get("/v1/t/c/bm90LW91cnM", headers=READER)
    assert broken.status_code == 404 and "invalid tracking link" in broken.text
    assert "location" not in broken.headers
    pixel = await api.http.get("/v1/t/o/bm90LW91cnM", headers=READER)
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    with store.session() as session:
        assert session.scalars(select(Engagement)).all() == []


def test_nurture_tracks_unless_the_provider_does_or_it_is_told_not_to() -> None:
    assert Settings(email_provider="smtp").own_tracking
    assert Settings(email_provider="outbox").own_tracking
    assert not Settings(email_provider="sendgrid").own_tracking  # SendGrid's own counts
    assert not Settings(email_provider="smtp", tracking="off").own_tracking
    assert not Settings(email_provider="smtp", tracking="provider").own_tracking
    assert Settings(email_provider="sendgrid", tracking="nurture").own_tracking
