"""Broadcasts over HTTP (`/v1/broadcasts`, the `admin` scope): the same steps as
`nurture broadcast` — create a draft (its templates frozen and checked), preview it,
schedule it (recipients frozen, the durable `Broadcast` started), hold it, read its status.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from nurture.api.auth import require
from nurture.api.errors import temporal_down
from nurture.broadcasts.client import handle_of, progress_of, schedule_broadcast
from nurture.broadcasts.content import BroadcastError, freeze_content, send_moment
from nurture.broadcasts.contract import BroadcastProgress, Variant
from nurture.broadcasts.preview import render_preview
from nurture.broadcasts.records import (
    BroadcastStatus,
    broadcast_status,
    create_broadcast,
    get_broadcast,
    set_state,
)
from nurture.scenario.loader import ScenarioError
from nurture.scenario.model import SLUG, LineMessage
from nurture.segments.membership import UnknownSegment, segment_book
from nurture.store.engine import Store

router = APIRouter(tags=["broadcasts"])
ADMIN = [Depends(require("admin"))]
BroadcastId = Annotated[
    str, Path(max_length=64, pattern=SLUG.pattern, description="a slug, e.g. seminar-jan")
]


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: str = Field(max_length=64, pattern=SLUG.pattern)
    segment: str = Field(max_length=64, pattern=SLUG.pattern)
    variants: list[Variant] = Field(min_length=1, max_length=8, description="2+: an A/B test")
    send_at: datetime | None = Field(
        default=None,
        description="RFC 3339 with its zone; with local_time, its wall-clock time is kept "
        "for each lead's zone; none: when scheduled",
    )
    local_time: bool = False
    line: LineMessage | None = Field(
        default=None, description="send on LINE (the variants are the email fallback)"
    )
    fallback: Literal["email", "none"] = "email"


class BroadcastView(BroadcastStatus):
    progress: BroadcastProgress | None = Field(description="the workflow's, when reachable")


class Created(BaseModel):
    id: str
    state: Literal["draft"] = "draft"


class Scheduled(BaseModel):
    id: str
    recipients: int = Field(description="frozen now: the exact count it will reach")


class Preview(BaseModel):
    subject: str
    text: str
    html: str


def _refused(err: Exception) -> HTTPException:
    if isinstance(err, LookupError) and not isinstance(err, UnknownSegment):
        return HTTPException(404, str(err.args[0]))
    if isinstance(err, ScenarioError):
        return HTTPException(422, f"scenario: {err.problems[0]}")
    return HTTPException(422, str(err.args[0]))  # the body names an unknown segment


@router.put("/broadcasts/{broadcast_id}", dependencies=ADMIN, status_code=201)
async def create(request: Request, broadcast_id: BroadcastId, body: BroadcastIn) -> Created:
    """Create a draft; an id is used once (create another to send again)."""
    store: Store = request.app.state.store
    root = request.app.state.settings.scenarios_dir

    def make() -> None:
        segment_book(root, store).get(body.segment)
        content = freeze_content(root, body.product, body.variants, body.line, body.fallback)
        send_at = send_moment(body.send_at, body.local_time) if body.send_at else None
        create_broadcast(
            store, broadcast_id=broadcast_id, product=body.product, segment=body.segment,
            content=content, send_at=send_at, local_time=body.local_time,
            mail_type="newsletter", by="api",
        )  # fmt: skip

    try:
        await asyncio.to_thread(make)
    except BroadcastError as err:
        status = 409 if "exists" in str(err) else 422
        raise HTTPException(status, str(err)) from None
    except (LookupError, ScenarioError) as err:
        raise _refused(err) from None
    return Created(id=broadcast_id)


@router.get("/broadcasts/{broadcast_id}", dependencies=ADMIN)
async def status(request: Request, broadcast_id: BroadcastId) -> BroadcastView:
    """Where the broadcast is: hand-overs, sends by status, and why some were not sent."""
    try:
        found = await asyncio.to_thread(broadcast_status, request.app.state.store, broadcast_id)
    except LookupError as err:
        raise _refused(err) from None
    try:
        progress = await progress_of(await request.app.state.temporal.client(), broadcast_id)
    except Exception:  # Temporal away: the store's figures stand
        progress = None
    return BroadcastView(**found.model_dump(), progress=progress)


@router.get("/broadcasts/{broadcast_id}/preview", dependencies=ADMIN)
async def preview(request: Request, broadcast_id: BroadcastId) -> list[Preview]:
    """Each variant rendered for a sample lead."""
    store: Store = request.app.state.store
    try:
        row = await asyncio.to_thread(get_broadcast, store, broadcast_id)
    except LookupError as err:
        raise _refused(err) from None
    root = request.app.state.settings.scenarios_dir
    emails = await asyncio.to_thread(render_preview, root, row, None)
    return [Preview(subject=e.subject, text=e.text, html=e.html) for e in emails]


@router.post("/broadcasts/{broadcast_id}/schedule", dependencies=ADMIN)
async def schedule(request: Request, broadcast_id: BroadcastId) -> Scheduled:
    """Freeze the recipients now and start the durable `Broadcast`."""
    state = request.app.state
    try:
        client = await state.temporal.client()
    except Exception as err:
        raise temporal_down(err) from None
    try:
        recipients = await schedule_broadcast(client, state.settings, state.store, broadcast_id)
    except BroadcastError as err:
        raise HTTPException(409, str(err)) from None
    except LookupError as err:
        raise _refused(err) from None
    return Scheduled(id=broadcast_id, recipients=recipients)


@router.post("/broadcasts/{broadcast_id}/pause", dependencies=ADMIN, status_code=202)
async def pause(request: Request, broadcast_id: BroadcastId) -> None:
    """Hold the hand-overs between batches (journeys handed it still send it)."""
    await _hold(request, broadcast_id, "pause")


@router.post("/broadcasts/{broadcast_id}/resume", dependencies=ADMIN, status_code=202)
async def resume(request: Request, broadcast_id: BroadcastId) -> None:
    await _hold(request, broadcast_id, "resume")


@router.post("/broadcasts/{broadcast_id}/cancel", dependencies=ADMIN, status_code=202)
async def cancel(request: Request, broadcast_id: BroadcastId) -> None:
    """Stop the hand-overs (journeys handed it still send it); a draft is just cancelled."""
    await _hold(request, broadcast_id, "cancel")


async def _hold(request: Request, broadcast_id: str, action: str) -> None:
    store: Store = request.app.state.store
    try:
        row = await asyncio.to_thread(get_broadcast, store, broadcast_id)
    except LookupError as err:
        raise _refused(err) from None
    if action == "cancel" and row.state == "draft":
        await asyncio.to_thread(set_state, store, broadcast_id, "cancelled", only_from=("draft",))
        return
    if row.state in ("draft", "finished", "cancelled"):
        raise HTTPException(409, f"broadcast {broadcast_id!r} is {row.state}: nothing to {action}")
    try:
        handle = handle_of(await request.app.state.temporal.client(), broadcast_id)
        await (handle.cancel() if action == "cancel" else handle.signal(action))
    except Exception as err:
        raise temporal_down(err) from None


@router.api_route(
    "/broadcasts/{broadcast_id}",
    methods=["HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE"],
    include_in_schema=False,
)
async def other_methods(broadcast_id: str) -> None:
    """Starlette would answer these with the first route's `Allow: PUT` only."""
    raise HTTPException(405, "a broadcast takes GET or PUT", {"Allow": "GET, PUT"})
