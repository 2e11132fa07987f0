"""LINE's webhook, one per product's LINE Official Account: signed events → links, consent
and behaviour.

`X-Line-Signature` (HMAC-SHA256 of the raw body under the product's channel secret) is
required before the body is read and verified with the official SDK's parser once it is in;
anything else is refused (403). What each event does (nurture/channels/line/links.py):

- `accountLink` with `result: ok`: its nonce is a link token Nurture issued (sealed,
  single-use, 24 hours); the LINE user is linked to the token's lead, and the follow is
  recorded as the channel's consent. The journey hears `line_linked`.
- a text `message` carrying a link code (`LINK <token>`, typed in for the lead by an
  email's `line_link_url`, good for 30 days): linked the same way.
- `follow` of a user linked before (who unfollowed): linked again, consent again
  (`line_follow`). A user LINE has never linked to a lead is nobody yet.
- `unfollow` (LINE reports a block as an unfollow): no LINE message reaches the lead from
  now, consent withdrawn, and the journey hears `line_unfollow`; email goes on.
- `message` from a linked user: behaviour (`line_message`, with the message's type, never
  its text), which a scenario may score.

Each event counts once, by LINE's `webhookEventId`; LINE redelivers what got no 2xx.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhooks import (
    AccountLinkEvent,
    FollowEvent,
    MessageEvent,
    TextMessageContent,
    UnfollowEvent,
)
from pydantic import BaseModel
from sqlalchemy.orm import Session

from nurture.api.limits import WEBHOOK_BYTES, max_body
from nurture.api.scenarios import current_scenarios
from nurture.channels.line import links
from nurture.channels.line.push import LinePusher
from nurture.channels.line.replies import Reply, reply_text
from nurture.config import Settings
from nurture.leads.events import (
    LINE_FOLLOW,
    LINE_LINKED,
    LINE_MESSAGE,
    LINE_UNFOLLOW,
    BehaviorEvent,
)
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events_in

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)
SIGNATURE = "X-Line-Signature"


class LineWebhookResult(BaseModel):
    received: int
    linked: int
    unfollowed: int
    refused: list[str]  # why an account link did not link (expired, used, not ours)


@router.post(
    "/webhooks/line/{product}",
    dependencies=[Depends(max_body(WEBHOOK_BYTES))],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def line_events(product: str, request: Request) -> LineWebhookResult:
    """The channel and the signature header are checked before the body is read."""
    settings: Settings = request.app.state.settings
    channel = settings.line_channels.get(product)
    if channel is None:
        raise HTTPException(
            403, f"no LINE channel for {product!r}: add it to NURTURE_LINE_CHANNELS"
        )
    signature = request.headers.get(SIGNATURE)
    if not signature:
        raise HTTPException(403, f"missing {SIGNATURE}: only LINE may call this webhook")
    body = await request.body()
    try:
        events = WebhookParser(channel.secret.get_secret_value()).parse(
            body.decode("utf-8"), signature
        )
    except InvalidSignatureError:
        raise HTTPException(403, "the signature does not verify") from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise HTTPException(400, 'body is not LINE\'s webhook JSON ({"events": [...]})') from None
    store: Store = request.app.state.store
    result, replies = await asyncio.to_thread(_apply, store, settings, product, events)
    await _answer(request, product, replies)
    return result


async def _answer(request: Request, product: str, replies: list[tuple[str, Reply]]) -> None:
    """The courtesy replies, once the store has what happened: a reply that fails is
    logged, never a reason for LINE to send the events again."""
    if not replies:
        return
    scenario = next((s for s in await current_scenarios(request) if s.product == product), None)
    name = scenario.name if scenario else product
    locale = scenario.locale if scenario else "en"
    pusher: LinePusher = request.app.state.line_pusher
    for token, reply in replies:
        try:
            await asyncio.to_thread(pusher.reply, product, token, reply_text(reply, locale, name))
        except Exception as err:  # the SDK's ApiException, a timeout, ...
            log.info("LINE reply (%s) not sent: %s", reply, type(err).__name__)


def _link_nonce(event: Any) -> str | None:
    """The link token an event carries: an account link's nonce, or the code a user sent in
    a text message (from an email's `line_link_url`)."""
    if isinstance(event, AccountLinkEvent):
        return str(event.link.nonce) if event.link.result == "ok" else None
    if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
        return links.code_in(event.message.text)
    return None


def _apply(
    store: Store, settings: Settings, product: str, events: list[Any]
) -> tuple[LineWebhookResult, list[tuple[str, Reply]]]:
    """One transaction: the links and consents, and the events the journeys hear; then
    the replies owed (reply token, which)."""
    now = datetime.now(UTC)
    refused: list[str] = []
    logged: list[LoggedEvent] = []
    replies: list[tuple[str, Reply]] = []
    with store.session() as session:
        for event in events:
            user = getattr(getattr(event, "source", None), "user_id", None)
            if not isinstance(user, str):
                continue  # a group or a room: no lead
            try:
                heard = _hear(session, settings, product, user, event, now)
            except links.LinkRefused as err:
                refused.append(str(err))
                _owe(replies, event, "refused")
                continue
            if heard is not None:
                logged.append(heard)
            if heard is not None and heard.event.type == LINE_LINKED:
                _owe(replies, event, "linked")
            elif heard is None and isinstance(event, FollowEvent):
                _owe(replies, event, "stranger")
        record_events_in(session, logged)
    kinds = [item.event.type for item in logged]
    result = LineWebhookResult(
        received=len(events),
        linked=kinds.count(LINE_LINKED),
        unfollowed=kinds.count(LINE_UNFOLLOW),
        refused=refused,
    )
    return result, replies


def _owe(replies: list[tuple[str, Reply]], event: Any, reply: Reply) -> None:
    token = getattr(event, "reply_token", None)
    if isinstance(token, str) and token:
        replies.append((token, reply))


def _hear(
    session: Session, settings: Settings, product: str, user: str, event: Any, now: datetime
) -> LoggedEvent | None:
    """What one event does, and what its lead's journey hears (None: no lead, or nothing
    to hear). Raises LinkRefused for a link token that links nobody."""
    properties: dict[str, str] = {}
    lead_id: str | None
    nonce = _link_nonce(event)
    if nonce is not None:
        token = links.read_link_token(nonce, settings.secret_key, now)
        if token.product != product:
            raise links.LinkRefused("this link token is for another product")
        lead_id, kind = links.link(session, token, user, product, now).lead_id, LINE_LINKED
    elif isinstance(event, FollowEvent):
        lead_id, kind = links.follow_again(session, product, user, now), LINE_FOLLOW
    elif isinstance(event, UnfollowEvent):
        lead_id, kind = links.stop(session, product, user, "unfollowed", now), LINE_UNFOLLOW
    elif isinstance(event, MessageEvent):
        lead_id, kind = links.lead_of(session, product, user), LINE_MESSAGE
        properties = {"message_type": str(event.message.type)}
    else:
        return None  # a failed account link, a postback, ...: nothing to record
    if lead_id is None:
        return None
    behaviour = BehaviorEvent(
        event_id=f"line:{event.webhook_event_id}",
        type=kind,
        occurred_at=datetime.fromtimestamp(event.timestamp / 1000, UTC),
        product=product,
        properties=properties,
    )
    return LoggedEvent(behaviour, lead_id=lead_id)
