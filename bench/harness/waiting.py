"""Keep calls in flight, and wait for work to be done without adding to its latency.

`pool` keeps N calls in flight in the order given (as a tracker fleet or an importer would,
no batch waiting for its slowest). `until` polls a check; `latest_handled` asks each
workflow whether it has handled all its work and returns the latest time at which one did,
by the workflow's own clock, so the polling adds load but no latency to a rate. Both say so
(a line starting "  !") and give up when the work is not done in time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

POLL = 0.2  # seconds between progress checks


async def pool(items: Sequence[T], call: Callable[[T], Awaitable[R]], limit: int) -> list[R]:
    """`call` on every item with `limit` in flight, taken in order; results in order."""
    results: dict[int, R] = {}
    queue = iter(enumerate(items))

    async def drain() -> None:
        for i, item in queue:  # the iterator is shared: each item is taken once
            results[i] = await call(item)

    await asyncio.gather(*(drain() for _ in range(max(1, min(limit, len(items))))))
    return [results[i] for i in range(len(items))]


async def until(
    what: str, check: Callable[[], Awaitable[bool]], limit: float, poll: float = POLL
) -> bool:
    """Poll `check` until it holds; False (and a line saying so) if it did not in time."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            print(f"  ! {what}: not done after {limit:.0f} s", flush=True)
            return False
        await asyncio.sleep(poll)
    return True


async def latest_handled(
    what: str,
    ids: Sequence[str],
    check: Callable[[str], Awaitable[datetime | None]],
    *,
    concurrency: int,
    limit: float,
    window: int | None = None,
    poll: float = POLL,
) -> datetime | None:
    """Query each workflow until it has handled all its work (`check` answers when, or None
    while it has not); the latest of those times, or None if some were still behind after
    `limit` seconds.

    Each round checks the first `window` workflows still pending (all of them by default),
    `concurrency` queries in flight, and sleeps `poll` seconds before the next round unless
    every one it checked was done: a smaller window is a lighter load on a busy server.
    """
    pending = list(ids)
    latest: datetime | None = None
    deadline = time.monotonic() + limit
    while pending:
        batch = pending[: window or len(pending)]
        results = await pool(batch, check, concurrency)
        done = {wid for wid, at in zip(batch, results, strict=True) if at is not None}
        for at in results:
            if at is not None and (latest is None or at > latest):
                latest = at
        pending = [wid for wid in pending if wid not in done]
        if len(done) < len(batch):
            if time.monotonic() > deadline:
                print(f"  ! {what}: {len(pending)} of {len(ids)} still behind", flush=True)
                return None
            await asyncio.sleep(poll)
    return latest
