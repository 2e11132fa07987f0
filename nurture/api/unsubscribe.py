"""One-click unsubscribe (RFC 8058) and the preference page, reached by signed tokens.

No API key (the reader is the lead), no cookies, no redirects. The suppression is written
to the store before answering, so the very next send is refused even if Temporal is down;
the journey is told as well.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from nurture import send_gate
from nurture.db import Lead
from nurture.journey import Unsubscribe
from nurture.journeys import unsubscribe as tell_journey
from nurture.store import Store
from nurture.unsubscribe import verify_unsubscribe

router = APIRouter(tags=["unsubscribe"])
log = logging.getLogger("nurture.api.unsubscribe")
MailChoice = Literal["newsletter", "step", "trigger"]
MAIL_TYPES: tuple[MailChoice, ...] = get_args(MailChoice)
Stop = Literal[MailChoice, "all"]


def _lead(request: Request, token: str) -> tuple[Lead, str]:
    try:
        lead_id, product = verify_unsubscribe(token, request.app.state.settings.secret_key)
    except ValueError as err:
        raise HTTPException(404, str(err)) from None
    store: Store = request.app.state.store
    lead = store.get_lead(lead_id)
    if lead is None or lead.erased_at is not None:
        raise HTTPException(404, "this link no longer belongs to anyone")
    return lead, product


@router.post("/unsubscribe/{token}", response_class=PlainTextResponse)
async def one_click(
    token: str,
    request: Request,
    list_unsubscribe: Annotated[Literal["One-Click"], Form(alias="List-Unsubscribe")],
) -> str:
    """RFC 8058: a POST with `List-Unsubscribe=One-Click` unsubscribes from the product."""
    lead, product = await asyncio.to_thread(_lead, request, token)
    await asyncio.to_thread(_suppress, request, lead, product, None)
    await tell_journey_of(request, product, lead.id, None)
    return f"You are unsubscribed from {product} emails."


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
    _, product = await asyncio.to_thread(_lead, request, token)
    boxes = "".join(
        f'<label><input type="checkbox" name="stop" value="{t}"> stop {t} emails</label><br>'
        for t in MAIL_TYPES
    )
    name = html.escape(product)
    return (
        "<!doctype html><html><body><h1>Email preferences</h1>"
        f"<form method=post action='{html.escape(token)}/preferences'>"
        f"<p>For {name}:</p>{boxes}"
        f"<label><input type=checkbox name=stop value=all> stop every {name} email</label><br>"
        "<button type=submit>Save</button></form></body></html>"
    )


@router.post("/unsubscribe/{token}/preferences", response_class=HTMLResponse)
async def save_preferences(
    token: str,
    request: Request,
    stop: Annotated[list[Stop], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> str:
    lead, product = await asyncio.to_thread(_lead, request, token)
    mail_types: list[str] | None = None if "all" in stop else [t for t in MAIL_TYPES if t in stop]
    if mail_types == []:
        return "<!doctype html><p>Nothing changed.</p>"
    await asyncio.to_thread(_suppress, request, lead, product, mail_types)
    await tell_journey_of(request, product, lead.id, mail_types)
    return "<!doctype html><p>Saved. Thank you.</p>"


def _suppress(request: Request, lead: Lead, product: str, mail_types: list[str] | None) -> None:
    store: Store = request.app.state.store
    with store.session() as session:
        for mail_type in mail_types or [""]:
            send_gate.suppress(
                session, email=lead.email, lead_id=lead.id,
                scope="mail_type" if mail_type else "product", product=product,
                mail_type=mail_type, reason="unsubscribe link",
            )  # fmt: skip


async def tell_journey_of(
    request: Request, product: str, lead_id: str, mail_types: list[str] | None
) -> None:
    """Best effort: the store already refuses the mail; the journey learns it now if it can."""
    try:
        client = await request.app.state.temporal.client()
        request_ = Unsubscribe(mail_types=mail_types, reason="unsubscribe link")  # type: ignore[arg-type]
        await tell_journey(client, product, lead_id, request_)
    except Exception as err:
        log.info("journey of %s not told of the unsubscribe now: %s", lead_id, err)
