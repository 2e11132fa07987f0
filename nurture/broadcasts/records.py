"""Broadcasts as the store keeps them: the broadcast, its frozen recipient list (numbered,
so the workflow pages by number and a resend is impossible), how each recipient was
handed over, and what its sends did."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, insert, literal, select, update

from nurture.broadcasts.content import BroadcastContent, BroadcastError
from nurture.broadcasts.contract import BroadcastDelivery, send_key
from nurture.journey.rules import line_send_key
from nurture.segments.definitions import references
from nurture.segments.membership import SegmentBook
from nurture.store.engine import Store
from nurture.store.models import Broadcast, BroadcastRecipient, Lead, Send, utcnow


def create_broadcast(
    store: Store,
    *,
    broadcast_id: str,
    product: str,
    segment: str,
    content: BroadcastContent,
    send_at: datetime | None,
    local_time: bool,
    mail_type: str,
    by: str,
) -> None:
    """A draft; refused when the id is taken (a broadcast is never edited once it may
    have been previewed: create another)."""
    with store.session() as session:
        if session.get(Broadcast, broadcast_id) is not None:
            raise BroadcastError(f"broadcast {broadcast_id!r} exists; choose another id")
        session.add(
            Broadcast(
                id=broadcast_id,
                product=product,
                segment=segment,
                channel="line" if content.line is not None else "email",
                mail_type=mail_type,
                content=content.model_dump_json(),
                send_at=send_at,
                local_time=local_time,
                state="draft",
                created_by=by,
            )
        )


def get_broadcast(store: Store, broadcast_id: str) -> Broadcast:
    with store.session() as session:
        found = session.get(Broadcast, broadcast_id)
        if found is None:
            raise LookupError(f"no broadcast {broadcast_id!r}; nurture broadcast list shows them")
        session.expunge(found)
        return found


def content_of(row: Broadcast) -> BroadcastContent:
    return BroadcastContent.model_validate_json(row.content)


def delivery_of(row: Broadcast, now: datetime) -> BroadcastDelivery:
    """What each journey gets; a broadcast without a time goes when it is handed over."""
    content = content_of(row)
    return BroadcastDelivery(
        broadcast_id=row.id,
        mail_type=row.mail_type,
        variants=content.variants,
        send_at=row.send_at or now,
        local_time=row.local_time,
        channel="line" if content.line is not None else "email",
        line=content.line,
        fallback=content.fallback,
    )


def set_state(
    store: Store, broadcast_id: str, state: str, *, only_from: tuple[str, ...] = ()
) -> bool:
    """Move the broadcast to `state` (from one of `only_from`, when given); True if moved."""
    with store.session() as session:
        query = update(Broadcast).where(Broadcast.id == broadcast_id)
        if only_from:
            query = query.where(Broadcast.state.in_(only_from))
        values: dict[str, object] = {"state": state}
        if state == "scheduled":
            values["scheduled_at"] = utcnow()
        return session.execute(query.values(**values)).rowcount > 0  # type: ignore[attr-defined]


def freeze_recipients(store: Store, broadcast_id: str, book: SegmentBook, now: datetime) -> int:
    """Number the segment's leads as of `now` into the broadcast's list, once: a second
    call (a retried activity) finds the list and returns its size."""
    with store.session() as session:
        row = session.get(Broadcast, broadcast_id, with_for_update=True)
        if row is None:
            raise BroadcastError(f"no broadcast {broadcast_id!r}")
        if row.segment_definition is not None:
            return row.recipients
        where: ColumnElement[bool] = book.where(row.segment, now)
        numbered = select(
            literal(broadcast_id), func.row_number().over(order_by=Lead.id), Lead.id
        ).where(where)
        session.execute(
            insert(BroadcastRecipient).from_select(["broadcast_id", "seq", "lead_id"], numbered)
        )
        row.recipients = (
            session.scalar(
                select(func.count()).where(BroadcastRecipient.broadcast_id == broadcast_id)
            )
            or 0
        )
        row.segment_definition = json.dumps(_frozen_definitions(book, row.segment), sort_keys=True)
        return row.recipients


def _frozen_definitions(book: SegmentBook, name: str) -> dict[str, object]:
    """The segment's definition and those of the segments it names, as used."""
    found: dict[str, object] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        segment = book.get(current)
        found[current] = segment.definition()
        todo += references(segment)
    return found


@dataclass(frozen=True)
class Recipient:
    seq: int
    lead_id: str
    outcome: str | None


def recipients_between(store: Store, broadcast_id: str, first: int, last: int) -> list[Recipient]:
    with store.session() as session:
        rows = session.execute(
            select(BroadcastRecipient.seq, BroadcastRecipient.lead_id, BroadcastRecipient.outcome)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.seq.between(first, last),
            )
            .order_by(BroadcastRecipient.seq)
        ).all()
    return [Recipient(*row) for row in rows]


def record_handover(
    store: Store, broadcast_id: str, seq: int, *, outcome: str, handed_to: str, detail: str
) -> None:
    with store.session() as session:
        session.execute(
            update(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == broadcast_id, BroadcastRecipient.seq == seq)
            .values(outcome=outcome, handed_to=handed_to, detail=detail[:500], handed_at=utcnow())
        )


class BroadcastStatus(BaseModel):
    broadcast_id: str
    product: str
    segment: str
    state: str
    send_at: datetime | None
    local_time: bool
    recipients: int
    handed: dict[str, int] = Field(default_factory=dict, description="by hand-over outcome")
    sends: dict[str, int] = Field(default_factory=dict, description="sends by status")
    reasons: dict[str, int] = Field(
        default_factory=dict, description="why some were held back or not sent"
    )


def broadcast_status(store: Store, broadcast_id: str) -> BroadcastStatus:
    """Where the broadcast is: recipients by hand-over outcome, sends by status, and the
    reasons of those held back or not sent."""
    row = get_broadcast(store, broadcast_id)
    status = BroadcastStatus(
        broadcast_id=broadcast_id, product=row.product, segment=row.segment, state=row.state,
        send_at=row.send_at, local_time=row.local_time, recipients=row.recipients,
    )  # fmt: skip
    with store.session() as session:
        for outcome, n in session.execute(
            select(func.coalesce(BroadcastRecipient.outcome, "waiting"), func.count())
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
            .group_by(BroadcastRecipient.outcome)
        ):
            status.handed[outcome] = n
        key = send_key(broadcast_id)
        for channel, state, detail, n in session.execute(
            select(Send.channel, Send.status, Send.detail, func.count())
            .where(Send.send_key.in_([key, line_send_key(key)]))
            .group_by(Send.channel, Send.status, Send.detail)
        ):
            said = state if channel == "email" else f"{state} on {channel}"
            status.sends[said] = status.sends.get(said, 0) + n
            if state in ("suppressed", "deferred", "failed") and detail:
                status.reasons[detail] = status.reasons.get(detail, 0) + n
        for refused, why, n in session.execute(
            select(BroadcastRecipient.outcome, BroadcastRecipient.detail, func.count())
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.outcome.in_(["skipped", "failed"]),
            )
            .group_by(BroadcastRecipient.outcome, BroadcastRecipient.detail)
        ):
            status.reasons[f"{refused}: {why}"] = n
    return status


def list_broadcasts(store: Store) -> list[Broadcast]:
    with store.session() as session:
        rows = list(session.scalars(select(Broadcast).order_by(Broadcast.created_at)))
        session.expunge_all()
        return rows
