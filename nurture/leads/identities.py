"""Which anonymous visitors are known leads, kept consistent with events arriving meanwhile.

`identify` links a visitor to a lead and attaches the visitor's earlier events; an event
from that visitor written at the same moment by another API process must not slip between
the two (stored anonymous after the attach, before it could see the link). On PostgreSQL,
writing an anonymous event takes a shared lock on its visitor and identifying takes an
exclusive one, so each sees the other's work whole; SQLite's write lock serialises anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from nurture.store.engine import upsert_insert
from nurture.store.models import Identity, utcnow


def lock_visitors(session: Session, anonymous_ids: Iterable[str], *, exclusive: bool) -> None:
    """Hold the visitors' locks until the transaction ends (sorted: no deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = [f"visitor:{anonymous_id}" for anonymous_id in sorted(set(anonymous_ids))]
    if not keys:
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(  # one round trip for a whole group of requests
        text(
            f"SELECT {function}(hashtext(key)) "
            "FROM (SELECT unnest(CAST(:keys AS text[])) AS key ORDER BY 1) AS ordered"
        ),
        {"keys": keys},
    )


def known_visitors(session: Session, anonymous_ids: Iterable[str]) -> dict[str, str]:
    """anonymous id → lead id, for the visitors already identified."""
    wanted = sorted(set(anonymous_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Identity.anonymous_id, Identity.lead_id).where(Identity.anonymous_id.in_(wanted))
    )
    return {anonymous_id: lead_id for anonymous_id, lead_id in rows}


def link_visitor(session: Session, anonymous_id: str, lead_id: str) -> None:
    """The visitor is this lead from now on (a later identify to another lead wins: a
    shared computer changes hands)."""
    statement = upsert_insert(session, Identity).values(
        anonymous_id=anonymous_id, lead_id=lead_id, linked_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["anonymous_id"],
            set_={"lead_id": lead_id, "linked_at": utcnow()},
        )
    )
