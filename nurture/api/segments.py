"""Segments over HTTP (`/v1/segments`, the `admin` scope): define them, count them, page
through their lead ids. Answers come from the store (nurture/segments/), at the moment
of the request; lead ids are opaque, so a segment's members carry no personal data.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from nurture.api.auth import require
from nurture.scenario.model import SLUG
from nurture.segments.definitions import (
    SegmentError,
    delete_segment,
    parse_segment,
    references,
    save_segment,
)
from nurture.segments.membership import SegmentBook, UnknownSegment, count, lead_ids, segment_book
from nurture.store.engine import Store
from nurture.store.models import utcnow

router = APIRouter(tags=["segments"])
ADMIN = [Depends(require("admin"))]
Name = Annotated[
    str,
    Path(
        max_length=64,
        pattern=SLUG.pattern,
        description="a slug: lowercase letters, digits, '-' or '_' (e.g. warm-finance)",
    ),
]


MAX_NESTING = 32  # any/all/not inside each other: far more than any segment needs


def _depth(value: object) -> int:
    """How deep JSON nests (without recursion: a hostile body must not exhaust the stack)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            todo += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            todo += [(v, depth + 1) for v in item]
    return deepest


class SegmentSummary(BaseModel):
    name: str
    description: str
    product: str | None
    kept_in: Literal["file", "api"] = Field(
        description="file: scenarios/segments.yaml (change it there); api: saved here"
    )


class SegmentView(SegmentSummary):
    definition: dict[str, Any]
    count: int = Field(description="leads in the segment at `as_of`")
    as_of: datetime


class SegmentLeads(BaseModel):
    lead_ids: list[str]
    next_after: str | None = Field(description="pass as `after` for the next page; null: done")


def _summary(book: SegmentBook, name: str) -> SegmentSummary:
    segment = book.get(name)
    return SegmentSummary(
        name=name,
        description=segment.description,
        product=segment.product,
        kept_in="file" if name in book.from_file else "api",
    )


async def _book(request: Request) -> SegmentBook:
    store: Store = request.app.state.store
    try:
        return await asyncio.to_thread(
            segment_book, request.app.state.settings.scenarios_dir, store
        )
    except SegmentError as err:
        raise HTTPException(
            503, f"scenarios/segments.yaml has problems; first: {err.problems[0]}"
        ) from None


def _known(book: SegmentBook, name: str) -> None:
    try:
        book.get(name)
    except UnknownSegment as err:
        raise HTTPException(404, str(err.args[0])) from None


@router.get("/segments", dependencies=ADMIN)
async def list_segments(request: Request) -> list[SegmentSummary]:
    """Every segment, from the file and saved through the API."""
    book = await _book(request)
    return [_summary(book, name) for name in sorted(book.segments)]


@router.get("/segments/{name}", dependencies=ADMIN)
async def get_segment(request: Request, name: Name) -> SegmentView:
    """The segment's definition and how many leads are in it now."""
    book = await _book(request)
    _known(book, name)
    now = utcnow()
    found = await asyncio.to_thread(count, request.app.state.store, book, name, now)
    return SegmentView(
        **_summary(book, name).model_dump(),
        definition=book.get(name).definition(),
        count=found,
        as_of=now,
    )


@router.get("/segments/{name}/leads", dependencies=ADMIN)
async def segment_leads(
    request: Request,
    name: Name,
    after: Annotated[
        str | None, Query(max_length=40, description="the last id of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> SegmentLeads:
    """One page of the segment's lead ids, in id order."""
    book = await _book(request)
    _known(book, name)
    ids = await asyncio.to_thread(
        lead_ids, request.app.state.store, book, name, after=after, limit=limit
    )
    return SegmentLeads(lead_ids=ids, next_after=ids[-1] if len(ids) == limit else None)


@router.put("/segments/{name}", dependencies=ADMIN, status_code=200)
async def put_segment(
    request: Request,
    response: Response,
    name: Name,
    definition: Annotated[
        dict[str, Any],
        Body(
            description="the definition, as under a name in scenarios/segments.yaml "
            '(docs/segments.md), e.g. {"product": "cloudbook", "stage": ["warm"]}'
        ),
    ],
) -> SegmentSummary:
    """Create (201) or replace (200) a segment; one defined in the file is changed there."""
    if _depth(definition) > MAX_NESTING:
        raise HTTPException(422, f"the definition nests deeper than {MAX_NESTING} levels")
    book = await _book(request)
    if name in book.from_file:
        raise HTTPException(
            409, f"segment {name!r} is defined in scenarios/segments.yaml; change it there"
        )
    try:
        segment = parse_segment(name, definition, book.known, book.segments)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    created = await asyncio.to_thread(save_segment, request.app.state.store, segment)
    response.status_code = 201 if created else 200
    book.segments[name] = segment
    return _summary(book, name)


@router.delete("/segments/{name}", dependencies=ADMIN, status_code=204)
async def remove_segment(request: Request, name: Name) -> None:
    """Delete a saved segment; refused while another segment names it."""
    book = await _book(request)
    _known(book, name)
    if name in book.from_file:
        raise HTTPException(
            409, f"segment {name!r} is defined in scenarios/segments.yaml; remove it there"
        )
    users = sorted(n for n, s in book.segments.items() if name in references(s))
    if users:
        raise HTTPException(409, f"segments {', '.join(users)} name {name!r}; change them first")
    await asyncio.to_thread(delete_segment, request.app.state.store, name)


@router.api_route(
    "/segments/{name}",
    methods=["HEAD", "POST", "PATCH", "OPTIONS", "TRACE"],
    include_in_schema=False,
)
async def other_methods(name: str) -> None:
    """Starlette would answer these with the first route's `Allow: GET` only."""
    raise HTTPException(405, "a segment takes GET, PUT or DELETE", {"Allow": "GET, PUT, DELETE"})
