"""LINE's webhook: only LINE's signature gets in, a link token links once, and what a LINE
user does becomes the lead's consent and behaviour, never their words."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from nurture.channels.line import links
from nurture.channels.line.links import issue_link_token, line_link_url
from nurture.channels.line.push import LineOutbox
from nurture.config import Settings
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.models import Event, LineLink
from tests.helpers.api import Api
from tests.helpers.journeys import make_lead
from tests.helpers.line import SECRET, channel, signed

_ids = iter(range(1, 1_000_000))


@pytest.fixture(autouse=True)
def line_channel(settings: Settings) -> None:
    settings.line_channels = {"acme": channel()}


def event(kind: str, user: str = "Uaiko", **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": f"01HEVENT{next(_ids)}",
        "deliveryContext": {"isRedelivery": False},
        **fields,
    }


def account_link(token: str, user: str = "Uaiko") -> dict[str, Any]:
    return event("accountLink", user, replyToken="r", link={"result": "ok", "nonce": token})


async def post(api: Api, *events: dict[str, Any], product: str = "acme") -> Any:
    body, headers = signed({"destination": "Uacme", "events": list(events)})
    return await api.http.post(f"/v1/webhooks/line/{product}", content=body, headers=headers)


def line_events(store: Store) -> list[Event]:
    with store.session() as session:
        return list(session.scalars(select(Event).where(Event.type.like("line_%"))))


async def test_only_lines_signature_gets_in(api: Api) -> None:
    body, headers = signed({"events": []})
    unsigned = await api.http.post("/v1/webhooks/line/acme", content=body)
    assert unsigned.status_code == 403 and "missing X-Line-Signature" in unsigned.text
    forged = {
        **headers,
        "X-Line-Signature": signed({"events": []}, secret="guess")[1]["X-Line-Signature"],
    }
    altered = await api.http.post(
        "/v1/webhooks/line/acme", content=body.replace(b"[]", b"[ ]"), headers=headers
    )
    assert altered.status_code == 403 and "does not verify" in altered.text
    wrong = await api.http.post("/v1/webhooks/line/acme", content=body, headers=forged)
    assert wrong.status_code == 403
    other = await post(api, product="other")
    assert other.status_code == 403 and "no LINE channel for 'other'" in other.text
    assert (await post(api)).json() == {"received": 0, "linked": 0, "unfollowed": 0, "refused": []}


async def test_a_link_token_links_its_lead_once_and_records_the_channels_consent(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    token = issue_link_token(lead.id, "acme", settings.secret_key, datetime.now(UTC))
    assert lead.id not in token and "acme" not in token  # nothing readable
    said = (await post(api, account_link(token))).json()
    assert (said["linked"], said["refused"]) == (1, [])
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") == "Uaiko"
        assert send_gate.has_consent(session, lead.id, "acme", channel="line")
    again = (await post(api, account_link(token, user="Umallory"))).json()
    assert again["refused"] == ["this LINE link token was used already: ask for a new link"]
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") == "Uaiko"
    assert [e.type for e in line_events(store)] == ["line_linked"]


async def test_an_expired_damaged_or_other_products_token_links_nobody(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    old = issue_link_token(
        lead.id, "acme", settings.secret_key, datetime.now(UTC) - timedelta(days=2)
    )
    other = issue_link_token(lead.id, "beta", settings.secret_key, datetime.now(UTC))
    fresh = issue_link_token(lead.id, "acme", settings.secret_key, datetime.now(UTC))
    damaged = fresh[:-2] + ("A" if fresh[-2] != "A" else "B") + fresh[-1]
    said = (await post(api, account_link(old), account_link(other), account_link(damaged))).json()
    assert said["refused"] == [
        "this LINE link token has expired: ask for a new link",
        "this link token is for another product",
        "invalid LINE link token: it is damaged or not ours",
    ]
    with store.session() as session:
        assert session.scalars(select(LineLink)).first() is None


async def test_unfollow_stops_line_and_following_again_restarts_it(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    token = issue_link_token(lead.id, "acme", settings.secret_key, datetime.now(UTC))
    await post(api, account_link(token))
    said = (await post(api, event("unfollow"), event("unfollow", user="Ustranger"))).json()
    assert said["unfollowed"] == 1  # a stranger's unfollow concerns no lead
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") is None
        assert not send_gate.has_consent(session, lead.id, "acme", channel="line")
        assert send_gate.has_consent(session, lead.id, "acme")  # email is another channel
    await post(api, event("follow", replyToken="r", follow={"isUnblocked": True}))
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") == "Uaiko"
        assert send_gate.has_consent(session, lead.id, "acme", channel="line")
    assert [e.type for e in line_events(store)] == ["line_linked", "line_unfollow", "line_follow"]


async def test_a_message_is_behaviour_without_its_words_and_counts_once(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    await post(
        api, account_link(issue_link_token(lead.id, "acme", settings.secret_key, datetime.now(UTC)))
    )
    text = {"id": "1", "type": "text", "text": "私の電話番号は 090-1234-5678", "quoteToken": "q"}
    wrote = event("message", replyToken="r", message=text)
    await post(api, wrote, event("message", user="Ustranger", replyToken="r", message=text))
    await post(api, wrote)  # LINE redelivers what it thinks we missed
    [message] = [e for e in line_events(store) if e.type == "line_message"]
    assert (message.lead_id, message.properties) == (lead.id, {"message_type": "text"})
    with store.session() as session:
        stored = json.dumps([e.properties for e in session.scalars(select(Event))])
    assert "090" not in stored


async def test_a_body_that_is_not_lines_json_is_refused_with_what_was_expected(api: Api) -> None:
    raw = b"not json"

    mac = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    answer = await api.http.post(
        "/v1/webhooks/line/acme", content=raw, headers={"X-Line-Signature": mac}
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == 'body is not LINE\'s webhook JSON ({"events": [...]})'


async def test_a_link_code_from_an_email_links_the_lead_who_sends_it(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    url = line_link_url("@acme", lead.id, "acme", settings.secret_key, datetime.now(UTC))
    base, _, typed = url.partition("?")
    assert base == "https://line.me/R/oaMessage/%40acme/"
    text = unquote(typed)
    assert text.startswith("LINK ") and lead.id not in text
    sent = {"id": "1", "type": "text", "text": text, "quoteToken": "q"}
    said = (await post(api, event("message", replyToken="r", message=sent))).json()
    assert (said["linked"], said["refused"]) == (1, [])
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") == "Uaiko"
    chat = {"id": "2", "type": "text", "text": "こんにちは", "quoteToken": "q"}
    await post(api, event("message", replyToken="r", message=chat))
    assert [e.type for e in line_events(store)] == ["line_linked", "line_message"]
    again = (await post(api, event("message", user="Uother", replyToken="r", message=sent))).json()
    assert again["refused"] == ["this LINE link token was used already: ask for a new link"]


def replies(settings: Settings) -> dict[str, str]:
    folder = LineOutbox(settings.outbox_dir).directory / "acme" / "replies"
    return {f.stem: json.loads(f.read_text())["text"] for f in folder.glob("*.json")}


async def test_the_account_answers_a_link_a_refusal_and_a_stranger(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    token = issue_link_token(lead.id, "acme", settings.secret_key, datetime.now(UTC))
    linked = {**account_link(token), "replyToken": "r-linked"}
    again = {**account_link(token, user="Uother"), "replyToken": "r-again"}
    stranger = event(
        "follow", user="Ustranger", replyToken="r-follow", follow={"isUnblocked": False}
    )
    await post(api, linked, again, stranger)
    said = replies(settings)
    assert said["r-linked"].startswith("You're connected: messages from Acme Analytics")
    assert said["r-again"].startswith("This link code cannot be used")
    assert "tap the LINE link in one of our emails" in said["r-follow"]


async def test_a_forwarded_code_cannot_take_a_linked_leads_line_messages(
    api: Api, store: Store, settings: Settings
) -> None:
    lead = make_lead(store)
    now = datetime.now(UTC)
    await post(api, account_link(issue_link_token(lead.id, "acme", settings.secret_key, now)))
    forwarded = issue_link_token(lead.id, "acme", settings.secret_key, now)
    said = (await post(api, account_link(forwarded, user="Umallory"))).json()
    assert said["refused"] == [
        "this lead already receives LINE messages on another LINE account; it stops them "
        "there first (unfollow, or the email's preference page)"
    ]
    with store.session() as session:
        assert links.linked_user(session, lead.id, "acme") == "Uaiko"
    await post(api, event("unfollow"))  # the lead ends its link; the code still works
    assert (await post(api, account_link(forwarded, user="Unewphone"))).json()["linked"] == 1
