"""One-click unsubscribe (RFC 8058) and the preference page, reached by signed tokens.

No API key (the reader is the lead), no cookies, no redirects. The suppression is written
to the store before answering, so the very next send is refused even if Temporal is down;
the journey is told as well. The page speaks the scenario's language (ja or en, words in
unsubscribe_texts.py), shows which mail types are on, and lets the lead turn them back on
(nurture/leads/preferences.py: the page's own suppressions are lifted, a new consent recorded).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from nurture.analytics.facts import Fact, record_facts_in
from nurture.api import unsubscribe_texts as t
from nurture.channels.line import links
from nurture.journey.client import unsubscribe as tell_journey
from nurture.journey.contract import Unsubscribe
from nurture.leads import preferences as prefs
from nurture.scenario.loader import ScenarioError, load_scenario
from nurture.sending.unsubscribe_tokens import read_unsubscribe
from nurture.store.engine import Store, lock_lead
from nurture.store.models import Lead

router = APIRouter(tags=["unsubscribe"])
log = logging.getLogger("nurture.api.unsubscribe")
MailChoice = prefs.MailChoice
MAIL_TYPES = prefs.MAIL_TYPES
Stop = Literal[MailChoice, "all"]
# `stop_listed`: what the earlier form (no `action`) asks, stop the `stop` list
Action = Literal["save", "stop_all", "stop_listed", "stop_line"]
T = TypeVar("T")


@dataclass(frozen=True)
class Product:
    """The product as the lead knows it from its emails: name, language, who to contact."""

    key: str
    name: str
    locale: t.Locale
    contact: str


def _product(request: Request, key: str) -> Product:
    """From the product's scenario; a product whose scenario is gone is shown in English."""
    try:
        scenario = load_scenario(request.app.state.settings.scenarios_dir, key)
    except ScenarioError:
        return Product(key, key, "en", "")
    return Product(key, scenario.name, scenario.locale, scenario.sender.contact)


@dataclass(frozen=True)
class Link:
    """Whose unsubscribe link it is, and which email it came in (None: an older link)."""

    lead: Lead
    product: str
    send_id: str | None


def _lead(request: Request, token: str) -> Link:
    try:
        lead_id, product, send_id = read_unsubscribe(token, request.app.state.settings.secret_key)
    except ValueError as err:
        raise HTTPException(404, str(err)) from None
    store: Store = request.app.state.store
    lead = store.get_lead(lead_id)
    if lead is None or lead.erased_at is not None:
        raise HTTPException(404, "this link no longer belongs to anyone")
    return Link(lead, product, send_id)


def _unsubscribed(link: Link, scopes: list[str]) -> list[Fact]:
    """The engagement facts of an unsubscribe through the link of one email: `product`, or
    each mail type stopped (none for an older link, which names no email)."""
    if link.send_id is None:
        return []
    now = datetime.now(UTC)
    return [
        Fact(fact_id=f"nu:{link.send_id}:{scope}", send_id=link.send_id, lead_id=link.lead.id,
             product=link.product, kind="unsubscribed", occurred_at=now, source="nurture",
             scope=scope)
        for scope in scopes
    ]  # fmt: skip


@router.post("/unsubscribe/{token}", response_class=PlainTextResponse)
async def one_click(
    token: str,
    request: Request,
    list_unsubscribe: Annotated[Literal["One-Click"], Form(alias="List-Unsubscribe")],
) -> str:
    """RFC 8058: a POST with `List-Unsubscribe=One-Click` unsubscribes from the product."""
    asked_at = datetime.now(UTC)
    link = await asyncio.to_thread(_lead, request, token)
    lead, product = link.lead, link.product
    facts = _unsubscribed(link, ["product"])
    await asyncio.to_thread(_write, request, prefs.unsubscribe_all, lead, product, facts=facts)
    await tell_journey_of(request, product, lead.id, None, asked_at)
    shown = await asyncio.to_thread(_product, request, product)
    return t.text(shown.locale, "one_click_done", name=shown.name)


@router.api_route(
    "/unsubscribe/{token}",
    methods=["HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"],
    include_in_schema=False,
)
async def other_methods(token: str) -> None:
    """Starlette would answer these with the first route's `Allow: POST`, hiding the GET
    preference page the same link serves."""
    raise HTTPException(405, "the unsubscribe link takes GET or POST", {"Allow": "GET, POST"})


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def preferences(token: str, request: Request) -> str:
    link = await asyncio.to_thread(_lead, request, token)
    lead, product = link.lead, link.product
    shown = await asyncio.to_thread(_product, request, product)
    current = await asyncio.to_thread(_read, request, lead, product)
    on_line = await asyncio.to_thread(_on_line, request, lead, product)
    return _page(shown, _preference_form(shown, current, token) + _line_part(shown, on_line, token))


@router.post("/unsubscribe/{token}/preferences", response_class=HTMLResponse)
async def save_preferences(
    token: str,
    request: Request,
    stop: Annotated[list[Stop], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    receive: Annotated[list[MailChoice], Form()] = [],  # noqa: B006
    action: Annotated[Action, Form()] = "stop_listed",
) -> str:
    """The page's form (`receive`: the mail types to get; `action` `save` or `stop_all`), or
    the earlier form's `stop` list (mail types, or `all`), which pages already open still
    post with neither `action` nor `receive`."""
    asked_at = datetime.now(UTC)
    chosen: set[str] = set(receive)
    link = await asyncio.to_thread(_lead, request, token)
    lead, product = link.lead, link.product
    shown = await asyncio.to_thread(_product, request, product)
    if action == "stop_line":
        await asyncio.to_thread(_stop_line, request, lead, product)
        said = _paragraph(t.text(shown.locale, "line_stopped", name=shown.name))
        return _page(shown, said + _back(shown, token))
    if action == "stop_listed" and not receive:  # the earlier form; nothing ticked, no change
        return await _save_stop_list(request, shown, link, token, stop, asked_at)
    if action == "stop_all":
        chosen = set()
    wording = t.RESUBSCRIBE_WORDING[shown.locale].format(
        name=shown.name, types=t.mail_types(shown.locale, sorted(chosen))
    )
    change = await asyncio.to_thread(
        _write, request, prefs.choose, lead, product, chosen, wording, facts=link
    )
    if change.after.unsubscribed and change.stopped:
        await tell_journey_of(request, product, lead.id, None, asked_at)
    elif change.stopped:
        await tell_journey_of(request, product, lead.id, list(change.stopped), asked_at)
    return _page(shown, _outcome(shown, change, token))


async def _save_stop_list(
    request: Request, shown: Product, link: Link, token: str, stop: list[Stop], asked_at: datetime
) -> str:
    mail_types: list[str] | None = None if "all" in stop else [m for m in MAIL_TYPES if m in stop]
    if mail_types == []:
        return _page(shown, _paragraph(t.text(shown.locale, "nothing_changed")))
    lead = link.lead
    change = await asyncio.to_thread(
        _write, request, prefs.stop, lead, shown.key, mail_types, facts=link
    )
    await tell_journey_of(request, shown.key, lead.id, mail_types, asked_at)
    return _page(shown, _outcome(shown, change, token))


def _on_line(request: Request, lead: Lead, product: str) -> bool:
    store: Store = request.app.state.store
    with store.session() as session:
        return links.linked_user(session, lead.id, product) is not None


def _stop_line(request: Request, lead: Lead, product: str) -> None:
    """The lead stops the product's LINE messages here (as an unfollow would): the link
    ends and the channel's consent is withdrawn; email stays as chosen."""
    store: Store = request.app.state.store
    with store.session() as session:
        user = links.linked_user(session, lead.id, product)
        if user is not None:
            links.stop(session, product, user, "stopped", datetime.now(UTC))


def _line_part(shown: Product, on_line: bool, token: str) -> str:
    """Whether the lead gets LINE messages, and the button that stops them."""
    locale, name = shown.locale, shown.name
    if not on_line:
        return _paragraph(t.text(locale, "line_off", name=name))
    return (
        _paragraph(t.text(locale, "line_on", name=name))
        + f"<form method=post action='{html.escape(token)}/preferences'>"
        '<button type="submit" name="action" value="stop_line">'
        f"{html.escape(t.text(locale, 'stop_line', name=name))}</button></form>"
    )


def _back(shown: Product, token: str) -> str:
    back = html.escape(t.text(shown.locale, "back"))
    return f"<p><a href='../{html.escape(token)}'>{back}</a></p>"


def _read(request: Request, lead: Lead, product: str) -> prefs.Preferences:
    store: Store = request.app.state.store
    with store.session() as session:
        return prefs.read_preferences(session, lead, product)


def _write(
    request: Request,
    change: Callable[..., T],
    lead: Lead,
    *args: object,
    facts: list[Fact] | Link | None = None,
) -> T:
    """Run one of nurture/leads/preferences.py's writes in one transaction, with the
    engagement facts it makes: given, or (a Link) those of what the change stopped. The
    lead's lock is held throughout, as a journey recording a late unsubscribe holds it: the
    two never interleave."""
    store: Store = request.app.state.store
    with store.session() as session:
        lock_lead(session, lead.id)
        done = change(session, lead, *args)
        if isinstance(facts, Link):
            facts = _unsubscribed(facts, _stopped_scopes(done))
        record_facts_in(session, facts or [])
        return done


def _stopped_scopes(change: object) -> list[str]:
    """`product` when a preference change unsubscribed the lead, else each mail type it stopped."""
    if not isinstance(change, prefs.Change) or not change.stopped:
        return []
    return ["product"] if change.after.unsubscribed else sorted(change.stopped)


def _page(shown: Product, body: str) -> str:
    title = html.escape(t.text(shown.locale, "title"))
    return (
        f'<!doctype html><html lang="{shown.locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    )


def _paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _state(shown: Product, current: prefs.Preferences) -> str:
    """One sentence on what the lead receives now."""
    locale, name = shown.locale, shown.name
    if current.blocked:
        return t.text(locale, "blocked", name=name, reason=current.blocked, contact=shown.contact)
    if current.unsubscribed:
        return t.text(locale, "unsubscribed", name=name)
    on = [m for m in MAIL_TYPES if m in current.receiving]
    if not on:
        return t.text(locale, "receiving_none", name=name)
    return t.text(locale, "receiving", types=t.mail_types(locale, on))


def _preference_form(shown: Product, current: prefs.Preferences, token: str) -> str:
    locale, name = shown.locale, shown.name
    intro = _paragraph(t.text(locale, "intro", name=name)) + _paragraph(_state(shown, current))
    if current.blocked:
        return intro
    boxes = "".join(
        f'<label><input type="checkbox" name="receive" value="{m}"'
        f"{' checked' if m in current.receiving else ''}> "
        f"{html.escape(t.MAIL_TYPE_LABELS[locale][m])} "
        f"({t.text(locale, 'on' if m in current.receiving else 'off')})</label><br>"
        for m in MAIL_TYPES
    )
    stop_all = (
        ""
        if current.unsubscribed
        else '<button type="submit" name="action" value="stop_all">'
        f"{html.escape(t.text(locale, 'stop_all', name=name))}</button>"
    )
    return (
        f"{intro}<form method=post action='{html.escape(token)}/preferences'>{boxes}"
        '<button type="submit" name="action" value="save">'
        f"{html.escape(t.text(locale, 'save'))}</button> {stop_all}</form>"
        + _paragraph(t.text(locale, "resubscribe_note"))
    )


def _outcome(shown: Product, change: prefs.Change, token: str) -> str:
    """What the save did, what the lead receives now, and the way back to the form."""
    locale, name, after = shown.locale, shown.name, change.after
    if after.blocked:
        said = [_state(shown, after)]
    elif change.resubscribed:
        said = [t.text(locale, "resubscribed", name=name), _state(shown, after)]
    elif after.unsubscribed and change.stopped:
        said = [t.text(locale, "now_stopped_all", name=name)]
    elif change.started or change.stopped:
        said = [t.text(locale, "saved"), _state(shown, after)]
    else:
        said = [t.text(locale, "nothing_changed"), _state(shown, after)]
    return "".join(_paragraph(line) for line in said) + _back(shown, token)


async def tell_journey_of(
    request: Request,
    product: str,
    lead_id: str,
    mail_types: list[str] | None,
    asked_at: datetime,
) -> None:
    """Best effort: the store already refuses the mail; the journey learns it now if it can.
    `asked_at` (taken before the store was written) lets the journey skip recording an
    unsubscribe the lead has since taken back."""
    try:
        client = await request.app.state.temporal.client()
        request_ = Unsubscribe(mail_types=mail_types, reason="unsubscribe link", at=asked_at)
        await tell_journey(client, product, lead_id, request_)
    except Exception as err:
        log.info("journey of %s not told of the unsubscribe now: %s", lead_id, err)
