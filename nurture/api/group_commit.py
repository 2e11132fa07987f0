"""Group commit: many requests, one transaction, each answered once its own write is durable.

A transaction per request spends most of its time in the round trips and the commit, so
requests that arrive while a write is in flight wait for the next one and share it: under
load each commit carries many requests, and an idle API still writes a request at once.
Tracker events (nurture/api/event_writer.py) and email tracking hits
(nurture/api/email_tracking.py) are written this way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.exc import OperationalError

MAX_GROUP = 256  # requests per transaction
MAX_IN_FLIGHT = 2  # transactions at once per process: one commits while the next builds

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Queue(Generic[In, Out]):
    waiting: list[tuple[In, asyncio.Future[Out]]] = field(default_factory=list)
    in_flight: int = 0


class GroupCommit(Generic[In, Out]):
    """Queue writes per event loop and commit them in groups; `commit` writes one group in
    one transaction (in a worker thread) and answers each write, in order."""

    def __init__(self) -> None:
        self._queues: dict[int, _Queue[In, Out]] = {}  # per event loop (tests run several)

    def commit(self, writes: list[In]) -> list[Out]:
        raise NotImplementedError

    async def write(self, write: In) -> Out:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(id(loop), _Queue())
        done: asyncio.Future[Out] = loop.create_future()
        queue.waiting.append((write, done))
        if queue.in_flight < MAX_IN_FLIGHT:
            self._next(queue)
        return await done

    def _next(self, queue: _Queue[In, Out]) -> None:
        group, queue.waiting = queue.waiting[:MAX_GROUP], queue.waiting[MAX_GROUP:]
        queue.in_flight += 1
        asyncio.get_running_loop().create_task(self._flush(queue, group))

    async def _flush(
        self, queue: _Queue[In, Out], group: list[tuple[In, asyncio.Future[Out]]]
    ) -> None:
        try:
            try:
                results = await asyncio.to_thread(self.commit, [w for w, _ in group])
                outcomes: list[Out | BaseException] = list(results)
            except OperationalError as err:
                # The store is unreachable: written alone, each would only wait for it again.
                outcomes = [err] * len(group)
            except Exception as err:
                # One bad request must not fail the others: write each alone.
                outcomes = [err] if len(group) == 1 else [await self._alone(w) for w, _ in group]
            for (_, done), outcome in zip(group, outcomes, strict=True):
                if done.done():
                    continue
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)
        finally:
            queue.in_flight -= 1
            if queue.waiting:
                self._next(queue)

    async def _alone(self, write: In) -> Out | BaseException:
        try:
            return (await asyncio.to_thread(self.commit, [write]))[0]
        except Exception as err:
            return err
