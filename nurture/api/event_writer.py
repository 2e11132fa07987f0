"""Group commit for tracker events: many requests, one transaction.

Trackers send one event per request. A transaction per request spends most of its time in
the round trips and the commit, so requests that arrive while a write is in flight wait for
the next one and share it: under load each commit carries many requests, and an idle API
still writes a request at once. Each request still gets its 2xx only after the transaction
holding its own events has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nurture.leads.identities import known_visitors, lock_visitors
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events_in
from nurture.store.models import Lead

MAX_GROUP = 256  # requests per transaction
MAX_IN_FLIGHT = 2  # transactions at once per process: one commits while the next builds


@dataclass(frozen=True)
class Owners:
    """Whose events they are: lead ids by userId, and by anonymousId for identified visitors."""

    by_user: Mapping[str, str]
    by_visitor: Mapping[str, str]


@dataclass(frozen=True)
class Write:
    """One request's events, built once the leads of its userIds and visitors are known."""

    user_ids: frozenset[str]
    events: Callable[[Owners], list[LoggedEvent]]
    anonymous_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Written:
    """How many events the request carried, and how many of them were new."""

    logged: int
    new: int


Waiting = list[tuple[Write, "asyncio.Future[Written]"]]


@dataclass
class _Queue:
    waiting: Waiting = field(default_factory=list)
    in_flight: int = 0


class EventWriter:
    """Writes tracker events in group commits; one per API process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queues: dict[int, _Queue] = {}  # per event loop (tests run several)

    async def write(self, write: Write) -> Written:
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(id(loop), _Queue())
        done: asyncio.Future[Written] = loop.create_future()
        queue.waiting.append((write, done))
        if queue.in_flight < MAX_IN_FLIGHT:
            self._next(queue)
        return await done

    def _next(self, queue: _Queue) -> None:
        group, queue.waiting = queue.waiting[:MAX_GROUP], queue.waiting[MAX_GROUP:]
        queue.in_flight += 1
        asyncio.get_running_loop().create_task(self._flush(queue, group))

    async def _flush(self, queue: _Queue, group: Waiting) -> None:
        try:
            try:
                results = await asyncio.to_thread(self.commit, [w for w, _ in group])
                outcomes: list[Written | BaseException] = list(results)
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

    async def _alone(self, write: Write) -> Written | BaseException:
        try:
            return (await asyncio.to_thread(self.commit, [write]))[0]
        except Exception as err:
            return err

    def commit(self, writes: list[Write]) -> list[Written]:
        """One transaction: resolve every userId, store every event, queue the deliveries."""
        with self.store.session() as session:
            visitors = frozenset().union(*(w.anonymous_ids for w in writes))
            lock_visitors(session, visitors, exclusive=False)  # see nurture/leads/identities.py
            owners = Owners(
                by_user=lead_ids(session, frozenset().union(*(w.user_ids for w in writes))),
                by_visitor=known_visitors(session, visitors),
            )
            logged = [w.events(owners) for w in writes]
            new = set(record_events_in(session, [e for events in logged for e in events]))
        written = []
        for events in logged:
            mine = {e.event.event_id for e in events} & new
            new -= mine  # a messageId in two requests of one group is new for the first
            written.append(Written(logged=len(events), new=len(mine)))
        return written


def lead_ids(session: Session, user_ids: frozenset[str]) -> dict[str, str]:
    """userId → lead id in one query (a userId is the lead's external id or Nurture id)."""
    wanted = [u for u in user_ids if u]
    if not wanted:
        return {}
    found: dict[str | None, str] = {}
    for lead_id, external_id in session.execute(
        select(Lead.id, Lead.external_id).where(
            or_(Lead.external_id.in_(wanted), Lead.id.in_(wanted))
        )
    ):
        found.setdefault(external_id, lead_id)
        found.setdefault(lead_id, lead_id)
    return {u: found[u] for u in wanted if u in found}
