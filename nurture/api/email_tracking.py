"""Nurture's own open pixel and click links (`/v1/t/o/{token}`, `/v1/t/c/{token}`).

They are on the reader's path, so counting never stands in the way of the answer: the pixel
is always a 1×1 GIF, a click always goes to its link, even when the hit cannot be counted
(an erased lead, a send the store no longer has, scenarios that cannot be read) or the
store is down (then the hit is lost and logged, never the reader). The hit is counted
before the answer, in a group commit with the hits that arrive with it (one transaction for
many hits: nurture/api/group_commit.py). Tokens are sealed (nurture/sending/tracking_tokens.py):
a click can only lead to a link one of our emails was rendered with. No key: these links
are in the lead's mailbox.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from nurture.analytics.own_tracking import Hit, Tracked, record_hits
from nurture.api.browsers import PublishedOrigins
from nurture.api.group_commit import GroupCommit
from nurture.api.scenarios import current_scenarios
from nurture.leads.tracking_privacy import policy_for
from nurture.sending.tracking_tokens import read_click, read_open, visitor_token
from nurture.store.engine import Store

router = APIRouter(tags=["email tracking"])
log = logging.getLogger("nurture.api.email_tracking")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


@router.get(
    "/t/o/{token}",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}, "description": "a transparent 1×1 GIF"}},
)
async def open_pixel(token: str, request: Request) -> Response:
    """The open pixel: a transparent 1×1 GIF, never cached, whatever the token."""
    settings = request.app.state.settings
    try:
        send_id = read_open(token, settings.secret_key)
    except ValueError:
        send_id = None
    if send_id is not None:
        hit = Hit(send_id, datetime.now(UTC), request.headers.get("user-agent", ""))
        await _count(request, Tracked(hit, "opened"))
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/t/c/{token}",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: {
            "description": "to the link the email was rendered with",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }
    },
)
async def click_link(token: str, request: Request) -> Response:
    """A click: counted, then redirected to the exact link the email was rendered with."""
    settings = request.app.state.settings
    try:
        send_id, link = read_click(token, settings.secret_key)
    except ValueError as err:
        raise HTTPException(404, f"{err}; open the email again and use the link there") from None
    hit = Hit(send_id, datetime.now(UTC), request.headers.get("user-agent", ""), link)
    try:
        scenarios = await current_scenarios(request)
    except (OSError, ValueError):  # unreadable scenarios: keep only what every policy keeps
        scenarios = []

    def keep(product: str, url: str) -> str:
        return policy_for(scenarios, product).url(url)

    lead_id = await _count(request, Tracked(hit, "clicked", keep))
    destination = await _with_visitor_token(request, link, lead_id)
    return RedirectResponse(destination, status_code=302, headers=NO_STORE)


class HitWriter(GroupCommit[Tracked, str | None]):
    """Counts pixel and click hits in group commits; one per API process."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def commit(self, writes: list[Tracked]) -> list[str | None]:
        return record_hits(self.store, writes)


async def _count(request: Request, tracked: Tracked) -> str | None:
    """The hit counted; the lead of its email, or None (not ours, or not counted)."""
    writer: HitWriter = request.app.state.hit_writer
    try:
        return await writer.write(tracked)
    except SQLAlchemyError as err:
        log.warning("a hit on send %s was not counted: %s", tracked.hit.send_id, type(err).__name__)
        return None


async def _with_visitor_token(request: Request, link: str, lead_id: str | None) -> str:
    """A link into a site that runs a Nurture tracker (an origin some publishable key lists)
    carries `#nt=`, with which that site's tracker may identify its visitor as the lead (a
    link with an anchor of its own gets none)."""
    parts = urlsplit(link)
    if lead_id is None or parts.fragment:  # an anchor of the page's own: left as it is
        return link
    origins: PublishedOrigins = request.app.state.published_origins
    try:
        tracked_site = await origins.allows(f"{parts.scheme}://{parts.netloc}".lower())
    except SQLAlchemyError:
        return link
    if not tracked_site:
        return link
    token = visitor_token(lead_id, request.app.state.settings.secret_key, datetime.now(UTC))
    # In the fragment: browsers never send it, so no server, CDN or log along the way sees it.
    return urlunsplit(parts._replace(fragment=f"nt={token}"))
