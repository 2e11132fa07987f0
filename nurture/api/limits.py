"""Payload limits as Segment documents them: 32 KB per event, 500 KB per batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request


def max_body(limit: int) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"body of {declared} bytes is over the {limit} byte limit")
        body = await request.body()
        if len(body) > limit:
            raise HTTPException(413, f"body of {len(body)} bytes is over the {limit} byte limit")

    return check
