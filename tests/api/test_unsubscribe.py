"""Unsubscribe links and the preference page as a lead uses them: tokens that show no ids,
old links that still work, the page in the scenario's language with the current choices,
unsubscribing (consent withdrawn) and coming back (consent recorded again)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.analytics.engagement_report import build_engagement_report
from nurture.channels.line import links
from nurture.channels.line.links import issue_link_token, read_link_token
from nurture.channels.line.links import link as link_line
from nurture.config import Settings
from nurture.mail.compose import unsubscribe_url
from nurture.sending import gate as send_gate
from nurture.sending.unsubscribe_tokens import sign_unsubscribe, verify_unsubscribe
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Consent, Engagement, Lead, Suppression
from tests.helpers.analytics import sent_row
from tests.helpers.api import LEAD, Api
from tests.helpers.journeys import eventually
from tests.helpers.paths import CONSENT, REPO

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def version_1_token(lead_id: str, product: str, secret: str) -> str:
    """A link as emails sent before token version 2 carry it (readable body, HMAC)."""
    body = base64.urlsafe_b64encode(f"{lead_id}:{product}".encode()).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def new_lead(store: Store, email: str = "aiko@example.jp") -> Lead:
    return store.upsert_lead(LeadIn(email=email, first_name="Aiko", consent=CONSENT))[0]


def consents(store: Store, lead_id: str) -> list[Consent]:
    with store.session() as session:
        return list(
            session.scalars(select(Consent).where(Consent.lead_id == lead_id).order_by(Consent.id))
        )


def stopped(store: Store, lead_id: str, product: str, mail_type: str | None) -> bool:
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        return send_gate.suppression_reason(session, lead, product, mail_type) is not None


def test_a_new_token_shows_no_lead_id_and_still_names_the_lead(
    store: Store, settings: Settings
) -> None:
    lead = new_lead(store)
    link = unsubscribe_url(settings.public_base_url, settings.secret_key, lead.id, "acme")
    token = link.rsplit("/", 1)[1]
    assert lead.id not in token and "." not in token
    body = unb64(token)
    assert lead.id.encode() not in body and lead.id[3:].encode() not in body
    assert b"acme" not in body
    assert verify_unsubscribe(token, settings.secret_key) == (lead.id, "acme")
    assert sign_unsubscribe(lead.id, "acme", settings.secret_key) == token  # a stable link
    with pytest.raises(ValueError, match="damaged or not ours"):
        verify_unsubscribe(token, "another-secret")
    with pytest.raises(ValueError, match="damaged or not ours"):
        verify_unsubscribe(token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"), "x")


async def test_a_link_in_an_email_sent_before_still_unsubscribes(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = new_lead(store)
    old = version_1_token(lead.id, "acme", settings.secret_key)
    assert (await api.http.get(f"/v1/unsubscribe/{old}")).status_code == 200
    done = await api.http.post(f"/v1/unsubscribe/{old}", data=ONE_CLICK)
    assert done.status_code == 200, done.text
    assert stopped(store, lead.id, "acme", "step")
    forged = version_1_token(lead.id, "acme", "dev-only-secret-change-me")
    assert (await api.http.post(f"/v1/unsubscribe/{forged}", data=ONE_CLICK)).status_code == 404


async def test_the_page_speaks_the_scenarios_language_and_shows_the_choices(
    api: Api, store: Store, settings: Settings
) -> None:
    settings.scenarios_dir = REPO / "scenarios"  # cloudbook: locale ja
    lead = new_lead(store)
    token = sign_unsubscribe(lead.id, "cloudbook", settings.secret_key)
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert '<html lang="ja">' in page and "メール配信の設定" in page
    assert "CloudBook 経費精算" in page and "メールマガジン" in page
    assert page.count("(受信中)") == 3 and page.count(" checked>") == 3

    done = await api.http.post(f"/v1/unsubscribe/{token}", data=ONE_CLICK)
    assert done.text == "CloudBook 経費精算 からのすべてのメールの配信を停止しました。"
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert "すべてのメールの配信を停止しています" in page
    assert page.count("(停止中)") == 3 and " checked>" not in page
    assert "終了した一連のメールは再開されず" in page  # what coming back does, said up front


async def test_unsubscribing_withdraws_consent_and_coming_back_records_it_again(
    env: WorkflowEnvironment,
    client: Client,
    api: Api,
    store: Store,
    settings: Settings,
    worker: Worker,
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    token = sign_unsubscribe(lead_id, "acme", settings.secret_key)
    form = f"/v1/unsubscribe/{token}/preferences"
    [agreed] = consents(store, lead_id)  # for every product ('')

    left = await api.http.post(form, data={"action": "stop_all"})
    assert "You are unsubscribed from all emails from Acme Analytics" in left.text
    assert stopped(store, lead_id, "acme", None)
    await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: s.lifecycle == "unsubscribed",
    )  # the journey still hears of it (signal `unsubscribe`)
    history = consents(store, lead_id)
    withdrawn = [(c.product, c.withdrawn_at is not None) for c in history]
    assert withdrawn == [("", False), ("acme", True)]
    assert (history[1].basis, history[1].wording) == (agreed.basis, agreed.wording)
    with store.session() as session:
        assert not send_gate.has_consent(session, lead_id, "acme")
        assert send_gate.has_consent(session, lead_id, "other-product")  # theirs stays

    back = await api.http.post(form, data={"receive": ["newsletter", "step"], "action": "save"})
    assert "Welcome back" in back.text and "does not restart" in back.text
    assert "You currently receive: Newsletter, Our regular emails" in back.text
    assert not stopped(store, lead_id, "acme", "step")
    assert not stopped(store, lead_id, "acme", "newsletter")
    assert stopped(store, lead_id, "acme", "trigger")  # left unticked
    history = consents(store, lead_id)
    assert len(history) == 3 and history[1].withdrawn_at is not None  # appended, not rewritten
    assert (history[2].product, history[2].source, history[2].withdrawn_at) == (
        "acme",
        "preference page",
        None,
    )
    assert "Turned emails from Acme Analytics back on" in (history[2].wording or "")
    with store.session() as session:
        assert send_gate.has_consent(session, lead_id, "acme")
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert page.count("(on)") == 2 and "Emails about what you looked at on our site (off)" in page


async def test_turning_one_mail_type_off_and_on_again(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = new_lead(store)
    token = sign_unsubscribe(lead.id, "acme", settings.secret_key)
    form = f"/v1/unsubscribe/{token}/preferences"
    saved = await api.http.post(form, data={"receive": ["step", "trigger"], "action": "save"})
    assert "Your choices are saved" in saved.text
    assert stopped(store, lead.id, "acme", "newsletter")
    assert not stopped(store, lead.id, "acme", None)
    assert len(consents(store, lead.id)) == 1  # a mail type is not consent
    again = await api.http.post(form, data={"receive": ["newsletter", "step", "trigger"]})
    assert "Your choices are saved" in again.text and "Welcome back" not in again.text
    assert not stopped(store, lead.id, "acme", "newsletter")
    legacy = await api.http.post(form, data={"stop": ["trigger"]})  # the page before this one
    assert legacy.status_code == 200 and stopped(store, lead.id, "acme", "trigger")


async def test_the_page_cannot_lift_a_bounce(api: Api, store: Store, settings: Settings) -> None:
    lead = new_lead(store)
    with store.session() as session:
        send_gate.suppress(
            session, email=lead.email, lead_id=lead.id, scope="global", reason="email_bounce"
        )
    token = sign_unsubscribe(lead.id, "acme", settings.secret_key)
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert "this page cannot change that" in page and "<form" not in page
    form = f"/v1/unsubscribe/{token}/preferences"
    await api.http.post(form, data={"receive": ["newsletter"], "action": "save"})
    with store.session() as session:
        assert session.scalars(select(Suppression.scope)).all() == ["global"]


async def test_an_unsubscribe_counts_for_the_email_its_link_came_in(
    api: Api, store: Store, settings: Settings
) -> None:
    """The link names its email (sealed): the engagement report counts the unsubscribe for
    that step, once, and a mail type turned off on the page counts as that scope. An older
    link, which names no email, still unsubscribes and counts for none."""
    lead = new_lead(store)
    other = new_lead(store, "ken@example.jp")
    at = datetime.now(UTC) - timedelta(hours=1)
    with store.session() as session:
        session.add(sent_row("snd_guide", lead.id, at, send_key="cold#1/guide"))
        session.add(sent_row("snd_other", other.id, at, send_key="cold#1/guide"))
    link = unsubscribe_url(settings.public_base_url, settings.secret_key, lead.id, "acme",
                           "snd_guide")  # fmt: skip
    token = link.rsplit("/", 1)[1]
    assert "snd_guide" not in unb64(token).decode("latin-1")  # sealed, like the lead id
    assert verify_unsubscribe(token, settings.secret_key) == (lead.id, "acme")
    page = await api.http.post(f"/v1/unsubscribe/{token}/preferences",
                               data={"action": "save", "receive": ["step", "trigger"]})  # fmt: skip
    assert page.status_code == 200, page.text
    for _ in range(2):  # a mail client may post one-click twice
        done = await api.http.post(f"/v1/unsubscribe/{token}", data=ONE_CLICK)
        assert done.status_code == 200, done.text
    old = sign_unsubscribe(other.id, "acme", settings.secret_key)  # version 2: no email named
    assert (await api.http.post(f"/v1/unsubscribe/{old}", data=ONE_CLICK)).status_code == 200
    assert stopped(store, other.id, "acme", "step")
    with store.session() as session:
        facts = session.scalars(select(Engagement).order_by(Engagement.scope)).all()
    assert [(f.send_id, f.kind, f.scope) for f in facts] == [
        ("snd_guide", "unsubscribed", "newsletter"),
        ("snd_guide", "unsubscribed", "product"),
    ]
    [guide] = build_engagement_report(store, product="acme").rows
    assert (guide.step, guide.sent, guide.unsubscribed) == ("guide", 2, 1)


async def test_the_page_shows_line_and_stops_it_without_touching_email(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = new_lead(store)
    token = sign_unsubscribe(lead.id, "acme", settings.secret_key)
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert "You do not receive messages from Acme Analytics on LINE." in page
    now = datetime.now(UTC)
    with store.session() as session:
        issued = issue_link_token(lead.id, "acme", settings.secret_key, now)
        link_line(session, read_link_token(issued, settings.secret_key, now), "Uaiko", "@acme", now)
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert "You also receive messages from Acme Analytics on LINE." in page
    assert 'value="stop_line"' in page

    form = f"/v1/unsubscribe/{token}/preferences"
    stopped_line = await api.http.post(form, data={"action": "stop_line"})
    assert "LINE messages from Acme Analytics are stopped" in stopped_line.text
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") is None
        assert not send_gate.has_consent(session, lead.id, "acme", channel="line")
        assert send_gate.has_consent(session, lead.id, "acme")
    assert not stopped(store, lead.id, "acme", "step")
    page = (await api.http.get(f"/v1/unsubscribe/{token}")).text
    assert "You do not receive messages from Acme Analytics on LINE." in page
