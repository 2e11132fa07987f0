"""SendGrid's Event Webhook: signed batches of delivery events → journeys and the store.

The signature (ECDSA over timestamp + raw body) is verified with SendGrid's own helper;
stale timestamps are refused. Opens, clicks, bounces and spam reports become behaviour
events (machine opens are stored but score nothing); every event about one of our sends is
kept as an engagement fact (nurture/analytics/sendgrid_facts.py); deliveries, bounces and a
person's opens and clicks move the send's status (a machine open never does);
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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from nurture.analytics.facts import Fact, record_facts_in
from nurture.analytics.sendgrid_facts import fact_of
from nurture.api.limits import WEBHOOK_BYTES, max_body
from nurture.api.scenarios import current_scenarios
from nurture.api.unsubscribe import tell_journey_of
from nurture.leads.events import (
    EMAIL_BLOCKED,
    EMAIL_BOUNCE,
    EMAIL_CLICK,
    EMAIL_OPEN,
    SPAM_REPORT,
    BehaviorEvent,
)
from nurture.leads.preferences import stop_mail_types, unsubscribe_all
from nurture.leads.tracking_privacy import policy_for
from nurture.mail.test_send import TEST_MAIL_TYPE
from nurture.scenario.model import Scenario
from nurture.sending.status import DeliveryStatus, advance_send_status
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events_in
from nurture.store.models import Lead

router = APIRouter(tags=["webhooks"])
SENDGRID_REASON = "SendGrid unsubscribe"  # the suppression's reason: not the page's to lift
BEHAVIOUR = {
    "open": EMAIL_OPEN,
    "click": EMAIL_CLICK,
    "bounce": EMAIL_BOUNCE,
    "spamreport": SPAM_REPORT,
}
STATUS: dict[str, DeliveryStatus] = {
    "delivered": "delivered", "open": "opened", "click": "clicked", "bounce": "bounced",
}  # fmt: skip


class WebhookResult(BaseModel):
    received: int
    new: int
    unsubscribed: int


@router.post(
    "/webhooks/sendgrid",
    dependencies=[Depends(max_body(WEBHOOK_BYTES))],
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
    """The signature headers are checked before the body is read (so a caller without them
    costs nothing), the signature itself once the body is in."""
    key, signature, timestamp = _signature_headers(request)
    body = await request.body()
    _verify(key, signature, timestamp, body)
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "body is not JSON: expected an array of events") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise HTTPException(400, "expected a JSON array of event objects")
    return await _apply(request, events)


def _signature_headers(request: Request) -> tuple[str, str, str]:
    """The configured public key and the request's signature and fresh timestamp."""
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
    return key, signature, timestamp


def _verify(key: str, signature: str, timestamp: str, body: bytes) -> None:
    try:
        verifier = EventWebhook(key)
        valid = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise HTTPException(403, "the signature does not verify")


async def _apply(request: Request, events: list[dict[str, Any]]) -> WebhookResult:
    store: Store = request.app.state.store
    scenarios = await current_scenarios(request)
    logged, blocked, unsubscribes, facts = [], [], [], []
    now = datetime.now(UTC)
    for raw in events:
        kind, sg_id, lead_id = raw.get("event"), raw.get("sg_event_id"), raw.get("lead_id")
        if not isinstance(sg_id, str) or not isinstance(lead_id, str):
            continue  # not one of ours (no custom args) or malformed: nothing to route
        if raw.get("mail_type") == TEST_MAIL_TYPE:
            continue  # a test send (`nurture send-test`): no lead, no analytics
        fact = fact_of(raw, _link_policy(raw, scenarios), now)
        if fact is not None:
            facts.append(fact)
        send_id = raw.get("send_id")
        if kind in STATUS and isinstance(send_id, str) and _moves_status(raw):
            await asyncio.to_thread(advance_send_status, store, send_id, STATUS[kind])
        if raw.get("mail_type") == "sales":
            continue  # our colleague opened, clicked or unsubscribed: not the lead's behaviour
        if _blocked(raw):
            event = _behaviour(raw, EMAIL_BLOCKED, scenarios)
            blocked.append(LoggedEvent(event, lead_id=lead_id))
        elif kind in BEHAVIOUR:
            event = _behaviour(raw, BEHAVIOUR[kind], scenarios)
            logged.append(LoggedEvent(event, lead_id=lead_id))
        elif kind in ("unsubscribe", "group_unsubscribe"):
            unsubscribes.append(raw)
    new = await asyncio.to_thread(_record, store, logged, blocked, facts)
    for raw in unsubscribes:
        await _unsubscribe(request, raw)
    return WebhookResult(received=len(events), new=len(new), unsubscribed=len(unsubscribes))


def _moves_status(raw: dict[str, Any]) -> bool:
    """A soft bounce leaves the send as it was, and so does a machine fetching the pixel:
    a person opening it later still counts."""
    return not _blocked(raw) and not (raw.get("event") == "open" and raw.get("sg_machine_open"))


def _link_policy(raw: dict[str, Any], scenarios: list[Scenario]) -> Callable[[str], str]:
    product = raw.get("product") if isinstance(raw.get("product"), str) else None
    return policy_for(scenarios, product).url


def _blocked(raw: dict[str, Any]) -> bool:
    """SendGrid's temporary bounce: `event: bounce` with `type: blocked`."""
    return raw.get("event") == "bounce" and raw.get("type") == "blocked"


def _record(
    store: Store, logged: list[LoggedEvent], blocked: list[LoggedEvent], facts: list[Fact]
) -> list[str]:
    """One transaction: the behaviour for the journeys, the blocked bounces for the record
    only (no journey hears of them, so none ends and no suppression follows), and the
    engagement facts for the reports."""
    with store.session() as session:
        record_facts_in(session, facts)
        return record_events_in(session, logged) + record_events_in(session, blocked, deliver=False)


# What a bounce's record keeps of SendGrid's fields: codes, not the server's free-text
# `reason` (it often quotes the address).
BOUNCE_FIELDS = {
    "type": "bounce_type",
    "status": "bounce_status",
    "bounce_classification": "bounce_classification",
}


def _behaviour(raw: dict[str, Any], kind: str, scenarios: list[Scenario]) -> BehaviorEvent:
    """The journey's event: ids, time, send and product; never the recipient's `email`,
    and of a clicked link only what the product's scenario keeps (links may carry the
    address in their query, e.g. a pre-filled form)."""
    product = raw.get("product") if isinstance(raw.get("product"), str) else None
    link = raw.get("url") if kind == EMAIL_CLICK else None
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
        url=policy_for(scenarios, product).url(str(link))[:2048] if link else None,
        product=product,
        properties={k: v for k, v in properties.items() if v is not None},
    )


async def _unsubscribe(request: Request, raw: dict[str, Any]) -> None:
    """`unsubscribe`: everything from the product; `group_unsubscribe`: that mail type."""
    asked_at = datetime.now(UTC)
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
    await tell_journey_of(request, product, lead.id, [scope] if scope else None, asked_at)


def _suppress(store: Store, lead: Lead, product: str, mail_type: str | None) -> None:
    with store.session() as session:
        if mail_type is None:
            unsubscribe_all(session, lead, product, reason=SENDGRID_REASON)
        else:
            stop_mail_types(session, lead, product, [mail_type], reason=SENDGRID_REASON)
