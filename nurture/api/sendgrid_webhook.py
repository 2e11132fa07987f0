"""SendGrid's Event Webhook: signed batches of delivery events → journeys and the store.

The signature (ECDSA over timestamp + raw body) is verified with SendGrid's own helper;
stale timestamps are refused. Opens, clicks, bounces and spam reports become behaviour
events (machine opens are stored but score nothing); deliveries move the send's status;
unsubscribes suppress in the store (an unsubscribe from the product also withdraws the
lead's consent to it) and tell the journey. A `bounce` of `type: blocked` is SendGrid's
temporary refusal by the receiving server (reputation, content, a rate limit), not a dead
address: it is stored as `email_blocked` (type, status, classification) and neither
suppresses nor reaches the journey; only a hard bounce (`type: bounce`, or none given)
does. Each event counts once, by `sg_event_id`. Our sends carry `lead_id`, `product`,
`send_id` and `mail_type` as custom_args, which SendGrid echoes at the top level of each
event. Events of `sales` mail
(hand-off notices to our own sales team, about the lead) only move the send's status: what
a colleague does with them is not the lead's behaviour.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from nurture import send_gate
from nurture.api.unsubscribe import tell_journey_of
from nurture.db import Lead, utcnow
from nurture.event_log import LoggedEvent, record_events_in
from nurture.events import (
    EMAIL_BLOCKED,
    EMAIL_BOUNCE,
    EMAIL_CLICK,
    EMAIL_OPEN,
    SPAM_REPORT,
    BehaviorEvent,
)
from nurture.preferences import withdraw_consent
from nurture.send_status import DeliveryStatus, advance_send_status
from nurture.store import Store

router = APIRouter(tags=["webhooks"])
BEHAVIOUR = {"open": EMAIL_OPEN, "click": EMAIL_CLICK, "bounce": EMAIL_BOUNCE,
             "spamreport": SPAM_REPORT}  # fmt: skip
STATUS: dict[str, DeliveryStatus] = {
    "delivered": "delivered", "open": "opened", "click": "clicked", "bounce": "bounced",
}  # fmt: skip
MAX_BODY = 5 * 1024 * 1024


class WebhookResult(BaseModel):
    received: int
    new: int
    unsubscribed: int


@router.post(
    "/webhooks/sendgrid",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}
            },
        }
    },
)
async def sendgrid_events(request: Request) -> WebhookResult:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"body over {MAX_BODY} bytes")
    _verify(request, body)
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "body is not JSON: expected an array of events") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise HTTPException(400, "expected a JSON array of event objects")
    return await _apply(request, events)


def _verify(request: Request, body: bytes) -> None:
    settings = request.app.state.settings
    key = settings.sendgrid_webhook_public_key
    if not key:
        raise HTTPException(
            403, "webhook verification key not configured: set NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY"
        )
    signature = request.headers.get(EventWebhookHeader.SIGNATURE)
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP)
    if not signature or not timestamp or not timestamp.isdigit():
        raise HTTPException(403, "missing SendGrid signature or timestamp headers")
    if abs(time.time() - int(timestamp)) > settings.sendgrid_webhook_max_age:
        raise HTTPException(403, "stale timestamp: the request is too old (replay?)")
    try:
        verifier = EventWebhook(key)
        valid = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise HTTPException(403, "the signature does not verify")


async def _apply(request: Request, events: list[dict[str, Any]]) -> WebhookResult:
    store: Store = request.app.state.store
    logged, blocked, unsubscribes = [], [], []
    for raw in events:
        kind, sg_id, lead_id = raw.get("event"), raw.get("sg_event_id"), raw.get("lead_id")
        if not isinstance(sg_id, str) or not isinstance(lead_id, str):
            continue  # not one of ours (no custom args) or malformed: nothing to route
        send_id = raw.get("send_id")
        if kind in STATUS and isinstance(send_id, str) and not _blocked(raw):
            await asyncio.to_thread(advance_send_status, store, send_id, STATUS[kind])
        if raw.get("mail_type") == "sales":
            continue  # our colleague opened, clicked or unsubscribed: not the lead's behaviour
        if _blocked(raw):
            blocked.append(LoggedEvent(_behaviour(raw, EMAIL_BLOCKED), lead_id=lead_id))
        elif kind in BEHAVIOUR:
            logged.append(LoggedEvent(_behaviour(raw, BEHAVIOUR[kind]), lead_id=lead_id))
        elif kind in ("unsubscribe", "group_unsubscribe"):
            unsubscribes.append(raw)
    new = await asyncio.to_thread(_record, store, logged, blocked)
    for raw in unsubscribes:
        await _unsubscribe(request, raw)
    return WebhookResult(received=len(events), new=len(new), unsubscribed=len(unsubscribes))


def _blocked(raw: dict[str, Any]) -> bool:
    """SendGrid's temporary bounce: `event: bounce` with `type: blocked`."""
    return raw.get("event") == "bounce" and raw.get("type") == "blocked"


def _record(store: Store, logged: list[LoggedEvent], blocked: list[LoggedEvent]) -> list[str]:
    """One transaction: the behaviour for the journeys, and the blocked bounces for the
    record only (no journey hears of them, so none ends and no suppression follows)."""
    with store.session() as session:
        return record_events_in(session, logged) + record_events_in(session, blocked, deliver=False)


# What a bounce's record keeps of SendGrid's fields: codes, not the server's free-text
# `reason` (it often quotes the address).
BOUNCE_FIELDS = {"type": "bounce_type", "status": "bounce_status",
                 "bounce_classification": "bounce_classification"}  # fmt: skip


def _behaviour(raw: dict[str, Any], kind: str) -> BehaviorEvent:
    stamp = raw.get("timestamp")
    occurred = (
        datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int | float) else datetime.now(UTC)
    )
    properties: dict[str, Any] = {
        "send_id": raw.get("send_id"),
        "machine_open": bool(raw.get("sg_machine_open")),
    }
    if raw.get("event") == "bounce":
        properties |= {
            ours: str(raw[theirs])[:100]
            for theirs, ours in BOUNCE_FIELDS.items()
            if isinstance(raw.get(theirs), str)
        }
    return BehaviorEvent(
        event_id=f"sg:{raw['sg_event_id']}",
        type=kind,
        occurred_at=min(occurred, datetime.now(UTC)),
        url=str(raw["url"])[:2048] if kind == EMAIL_CLICK and raw.get("url") else None,
        product=raw.get("product") if isinstance(raw.get("product"), str) else None,
        properties={k: v for k, v in properties.items() if v is not None},
    )


async def _unsubscribe(request: Request, raw: dict[str, Any]) -> None:
    """`unsubscribe`: everything from the product; `group_unsubscribe`: that mail type."""
    store: Store = request.app.state.store
    product, mail_type = raw.get("product"), raw.get("mail_type")
    if not isinstance(product, str):
        return
    scope = (
        mail_type
        if raw.get("event") == "group_unsubscribe" and isinstance(mail_type, str)
        else None
    )
    lead = await asyncio.to_thread(store.get_lead, str(raw["lead_id"]))
    if lead is None:
        return
    await asyncio.to_thread(_suppress, store, lead, product, scope)
    await tell_journey_of(request, product, lead.id, [scope] if scope else None)


def _suppress(store: Store, lead: Lead, product: str, mail_type: str | None) -> None:
    with store.session() as session:
        send_gate.suppress(
            session, email=lead.email, lead_id=lead.id,
            scope="mail_type" if mail_type else "product", product=product,
            mail_type=mail_type or "", reason="SendGrid unsubscribe",
        )  # fmt: skip
        if mail_type is None:
            withdraw_consent(session, lead.id, product, utcnow())
