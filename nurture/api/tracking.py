"""Segment-spec tracking endpoints: `track`, `page`, `identify`, `batch`.

Every accepted event is in the store (and queued for the lead's journeys) before the 2xx;
a repeated messageId is accepted and counted once.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from nurture.api.auth import KEY_INFO, KeyInfo, require
from nurture.api.event_writer import EventWriter, Owners, Write, Written, lead_ids
from nurture.api.lead_profiles import tell_journeys
from nurture.api.limits import max_body
from nurture.api.scenarios import attribute_catalog, current_scenarios
from nurture.api.segment_spec import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Batch,
    IdentifyMessage,
    PageMessage,
    SegmentMessage,
    TrackMessage,
    event_type,
    page_events,
    track_events,
)
from nurture.leads.attributes import AttributeCatalog, AttributeValue
from nurture.leads.bots import bot_reason
from nurture.leads.events import provider_only
from nurture.observability.metrics import EVENTS_ACCEPTED
from nurture.scenario.model import Scenario
from nurture.sending.tracking_tokens import read_visitor
from nurture.store.engine import LeadIn, Store
from nurture.store.event_log import LoggedEvent, identify
from nurture.store.models import Lead, utcnow

router = APIRouter(tags=["tracking"])
# RudderStack's SDK with `useBeacon: true` sends its batches to `/beacon/v1/batch?writeKey=`
# (outside /v1): the batch route, mounted there too.
beacon_router = APIRouter(tags=["tracking"])


class Accepted(BaseModel):
    """What was stored: `new` events, `duplicates` already seen, events `replayed` by
    identify; from a publishable key, `other_products`: events of products it does not
    cover, and `identifies_refused`: identifies without a valid email-link token (neither
    stored)."""

    accepted: int
    new: int
    duplicates: int
    replayed: int = 0
    other_products: int = 0
    identifies_refused: int = 0


def _ingest(limit: int) -> list[Any]:
    return [Depends(require("ingest")), Depends(max_body(limit))]


# Segment's browser SDK (analytics-next) posts to the first letter of the type: /t, /p, /i,
# and /b for a batch; the same routes, left out of the published schema.
@router.post("/track", dependencies=_ingest(MAX_EVENT_BYTES))
@router.post("/t", dependencies=_ingest(MAX_EVENT_BYTES), include_in_schema=False)
async def track(message: TrackMessage, request: Request) -> Accepted:
    return await _accept(request, [message])


@router.post("/page", dependencies=_ingest(MAX_EVENT_BYTES))
@router.post("/p", dependencies=_ingest(MAX_EVENT_BYTES), include_in_schema=False)
async def page(message: PageMessage, request: Request) -> Accepted:
    return await _accept(request, [message])


@router.post("/identify", dependencies=_ingest(MAX_EVENT_BYTES))
@router.post("/i", dependencies=_ingest(MAX_EVENT_BYTES), include_in_schema=False)
async def identify_(message: IdentifyMessage, request: Request) -> Accepted:
    return await _accept(request, [message])


@router.post("/batch", dependencies=_ingest(MAX_BATCH_BYTES))
@router.post("/b", dependencies=_ingest(MAX_BATCH_BYTES), include_in_schema=False)
@beacon_router.post(
    "/beacon/v1/batch", dependencies=_ingest(MAX_BATCH_BYTES), include_in_schema=False
)
async def batch(body: Batch, request: Request) -> Accepted:
    return await _accept(request, list(body.batch))


async def _accept(request: Request, messages: list[SegmentMessage]) -> Accepted:
    """Store the events (in the process's next group commit), then run the identifies."""
    _refuse_delivery_facts(messages)
    refused = 0
    if _publishable(request):
        messages, refused = _from_a_page(request, messages)
    identifies = [m for m in messages if m.type == "identify"]
    catalog = await attribute_catalog(request) if identifies else AttributeCatalog()
    # A bad identify refuses the batch before anything is stored.
    identified = [(m, *_identity(m, catalog)) for m in identifies]
    behaviour = [m for m in messages if m.type != "identify"]
    written = Written(logged=0, new=0)
    covered = _products_covered(request)
    # From a page (a publishable key), the caller is the visitor's browser: its User-Agent
    # says whether it is one; a server-side tracker's is the library's, so only the event's.
    browser_agent = request.headers.get("user-agent") if _publishable(request) else None
    other_products = 0
    if behaviour:
        scenarios = await current_scenarios(request)
        received = utcnow()

        def events(owners: Owners) -> list[LoggedEvent]:
            nonlocal other_products
            logged = _logged(behaviour, owners, scenarios, received, browser_agent)
            kept = [_covered(e, covered) for e in logged]
            other_products = kept.count(None)
            return [e for e in kept if e is not None]

        writer: EventWriter = request.app.state.event_writer
        written = await writer.write(
            Write(
                user_ids=frozenset(m.user_id for m in behaviour if m.user_id),
                anonymous_ids=frozenset(m.anonymous_id for m in behaviour if m.anonymous_id),
                events=events,
            )
        )
        EVENTS_ACCEPTED.labels("browser" if _publishable(request) else "server").inc(written.new)
    replayed = 0
    if identifies:
        store: Store = request.app.state.store
        outcomes = await asyncio.to_thread(
            lambda: [_identify(store, *identity) for identity in identified]
        )
        replayed = sum(count for count, _ in outcomes)
        for _, updated in outcomes:
            if updated is not None:
                await tell_journeys(request, updated)
    return Accepted(
        accepted=len(messages),
        new=written.new,
        duplicates=written.logged - written.new,
        replayed=replayed,
        other_products=other_products,
        identifies_refused=refused,
    )


def _from_a_page(
    request: Request, messages: list[SegmentMessage]
) -> tuple[list[SegmentMessage], int]:
    """What a page (a publishable key, public in every visitor's browser) may say: its
    events are its visitor's, never a lead's by `userId` (anyone could send someone else's
    CRM id), and an identify counts only with the token of a Nurture email link. A batch
    keeps its other events when an identify is refused; a lone identify is a 403."""
    kept: list[SegmentMessage] = []
    refused = 0
    for message in messages:
        if message.type != "identify":
            visitor = message.anonymous_id or f"page-user:{message.user_id}"[:120]
            kept.append(message.model_copy(update={"user_id": None, "anonymous_id": visitor}))
            continue
        try:
            kept.append(_by_visitor_token(request, message))
        except HTTPException:
            if len(messages) == 1:
                raise
            refused += 1
    return kept, refused


def _by_visitor_token(request: Request, message: SegmentMessage) -> SegmentMessage:
    """A page may identify its visitor only as the lead whose email link brought it there:
    by the `nt=` token that link carried (`context.nurture.token`), never by traits or a
    userId (anyone could type someone else's address into the console). 403 otherwise."""
    nurture = message.context.get("nurture")
    token = nurture.get("token") if isinstance(nurture, dict) else None
    try:
        if not isinstance(token, str):
            raise ValueError("no visitor token")
        lead_id = read_visitor(token, request.app.state.settings.secret_key, utcnow())
    except ValueError as err:
        raise HTTPException(
            403,
            f"a publishable key identifies a visitor only by the token of a Nurture email link "
            f"(`context.nurture.token`, from the link's `nt=`): {err}. Identify from your "
            "backend with a secret `ingest` key",
        ) from None
    return message.model_copy(update={"user_id": lead_id, "traits": {}})


def _covered(logged: LoggedEvent, covered: frozenset[str] | None) -> LoggedEvent | None:
    """The event as a publishable key may send it: of a product it covers (an event of no
    product is its one product's when it names one), or None when it covers not."""
    product = logged.event.product
    if covered is None or product in covered:
        return logged
    if product is None and len(covered) == 1:
        [only] = covered
        return replace(logged, event=logged.event.model_copy(update={"product": only}))
    return logged if product is None else None


def _publishable(request: Request) -> bool:
    key: KeyInfo | None = request.scope.get(KEY_INFO)
    return key is not None and key.publishable


def _products_covered(request: Request) -> frozenset[str] | None:
    """The products a publishable key's events may name (None: any)."""
    key: KeyInfo | None = request.scope.get(KEY_INFO)
    if key is None or not key.publishable or not key.products:
        return None
    return key.products


def _refuse_delivery_facts(messages: list[SegmentMessage]) -> None:
    """422 for a track event named like a bounce, spam report, unsubscribe, open or click:
    with any tracker key it would suppress a lead's email or fake engagement. Refused, not
    stored, so the sender learns it at once; nothing of the request is stored."""
    for message in messages:
        if isinstance(message, TrackMessage) and provider_only(event_type(message.event)):
            raise HTTPException(
                422,
                f"track event {message.event!r} (messageId {message.message_id!r}) names a "
                "delivery fact: bounces, spam reports, unsubscribes, drops, opens and clicks "
                "come only from the signed SendGrid Event Webhook (/v1/webhooks/sendgrid) and "
                "the lead's unsubscribe link. Drop it at the source, or give site behaviour "
                "another name",
            )


def _logged(
    messages: list[SegmentMessage],
    owners: Owners,
    scenarios: list[Scenario],
    received: datetime,
    browser_agent: str | None = None,
) -> list[LoggedEvent]:
    """Each message's behaviour events, owned by its lead (by userId, or by a visitor that
    `identify` linked), else by its anonymous visitor; a program's (a crawler, a headless
    browser: its `context.userAgent`, else the calling browser's) are kept apart: stored
    with the reason, owned by no lead or visitor, so they never reach a journey."""
    logged: list[LoggedEvent] = []
    for message in messages:
        agent = message.context.get("userAgent")
        bot = bot_reason(agent if isinstance(agent, str) else browser_agent)
        lead_id = owners.by_user.get(message.user_id) if message.user_id else None
        if lead_id is None and message.anonymous_id:
            lead_id = owners.by_visitor.get(message.anonymous_id)
        anonymous = message.anonymous_id or (None if lead_id else f"user:{message.user_id}")
        if message.type == "track":
            events = track_events(message, received, scenarios)
        else:
            events = page_events(message, received, scenarios)
        if bot is not None:
            events = [e.model_copy(update={"properties": {**e.properties, "bot": bot}})
                      for e in events]  # fmt: skip
            lead_id, anonymous = None, f"bot:{anonymous or message.message_id}"[:200]
        logged += [LoggedEvent(e, lead_id=lead_id, anonymous_id=anonymous) for e in events]
    return logged


def _lead_id(store: Store, user_id: str | None) -> str | None:
    if not user_id:
        return None
    with store.session() as session:
        return lead_ids(session, frozenset({user_id})).get(user_id)


def _identify(
    store: Store,
    message: SegmentMessage,
    attributes: dict[str, AttributeValue | None],
    new_lead: LeadIn | None,
) -> tuple[int, Lead | None]:
    """Link the visitor to a lead (found by userId or email; created from traits with an
    email) and queue its anonymous history for the lead's journeys. Returns how many events
    were queued, and the lead when its attributes changed (its journeys are to be told)."""
    lead_id = _lead_id(store, message.user_id)
    updated = None
    if lead_id is None and new_lead is not None:
        lead_id = _lead_by_email(store, new_lead.email)
        if lead_id is None:  # a new lead from the traits
            lead, _ = store.upsert_lead(new_lead)
            lead_id = lead.id
        elif attributes:  # an existing one: only its attributes change
            updated = store.update_lead(lead_id, {"attributes": attributes})
    elif lead_id is not None and attributes:
        updated = store.update_lead(lead_id, {"attributes": attributes})
    if lead_id is None:
        return 0, None
    replayed = 0
    for anonymous in {message.anonymous_id, f"user:{message.user_id}" if message.user_id else None}:
        if anonymous:
            replayed += len(identify(store, anonymous, lead_id))
    return replayed, updated


def _identity(
    message: SegmentMessage, catalog: AttributeCatalog
) -> tuple[dict[str, AttributeValue | None], LeadIn | None]:
    """What an identify says of a lead, checked: its declared attributes, and the lead its
    traits make (with an email), or a 422 naming what is wrong."""
    attributes = _attribute_traits(message, catalog)
    return attributes, _lead_from_traits(message, attributes)


def _attribute_traits(
    message: SegmentMessage, catalog: AttributeCatalog
) -> dict[str, AttributeValue | None]:
    """The traits that are custom attributes a scenario declares, checked (a bad value is a
    422 naming it). Other traits are left alone: trackers send whatever the site knows
    (Segment's reserved traits, a CDP's own), and identify takes only what Nurture uses."""
    declared = {k: v for k, v in message.traits.items() if k in catalog.declared}
    try:
        return catalog.check(declared)
    except ValueError as err:
        raise HTTPException(422, f"identify {message.message_id}: traits: {err}") from None


def _lead_from_traits(
    message: SegmentMessage, attributes: dict[str, AttributeValue | None]
) -> LeadIn | None:
    """A lead from identify traits (email required), validated before anything is stored."""
    email = message.traits.get("email")
    if not email:
        return None
    fields = {
        "email": str(email),
        "external_id": message.user_id,
        "first_name": _trait(message, "firstName", "first_name"),
        "last_name": _trait(message, "lastName", "last_name"),
        "company": _company(message),
        "title": _trait(message, "title"),
        "attributes": attributes or None,
    }
    try:
        return LeadIn(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as err:
        problem = err.errors()[0]
        raise HTTPException(
            422, f"identify {message.message_id}: traits.{problem['loc'][0]}: {problem['msg']}"
        ) from None


def _lead_by_email(store: Store, email: str) -> str | None:
    with store.session() as session:
        return session.scalars(select(Lead.id).where(Lead.email == email)).first()


def _trait(message: SegmentMessage, *names: str) -> str | None:
    for name in names:
        value = message.traits.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


def _company(message: SegmentMessage) -> str | None:
    company = message.traits.get("company")
    if isinstance(company, dict):
        company = company.get("name")
    return str(company)[:300] if company else None
