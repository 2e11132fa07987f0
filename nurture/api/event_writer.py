"""Group commit for tracker events: many requests, one transaction (nurture/api/group_commit.py).

Trackers send one event per request; each request still gets its 2xx only after the
transaction holding its own events has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nurture.api.group_commit import GroupCommit
from nurture.leads.identities import known_visitors, lock_visitors
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events_in
from nurture.store.models import Lead


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


class EventWriter(GroupCommit[Write, Written]):
    """Writes tracker events in group commits; one per API process."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

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
