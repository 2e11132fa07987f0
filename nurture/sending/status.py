"""A send's status after it went out, from the provider's events (SendGrid's Event Webhook).

Events arrive out of order and more than once; the status only moves forward:
sent → delivered → opened → clicked, and bounced from sent or delivered. A late
'delivered' after an 'opened' changes nothing. A send left `uncertain` (the provider may or
may not have accepted it) is settled by any of these events: it did go out.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from nurture.store.engine import Store
from nurture.store.models import Send

DeliveryStatus = Literal["delivered", "opened", "clicked", "bounced"]
_RANK = {"sending": 0, "uncertain": 0, "sent": 0, "delivered": 1, "opened": 2, "clicked": 3}
# What each status may follow.
_FROM: dict[str, tuple[str, ...]] = {
    status: tuple(s for s, rank in _RANK.items() if rank < _RANK[status])
    for status in ("delivered", "opened", "clicked")
}
_FROM["bounced"] = ("sending", "uncertain", "sent", "delivered")


def advance_send_status(store: Store, send_id: str, status: DeliveryStatus) -> bool:
    """Move the send forward to `status`; False when it was already there or beyond."""
    with store.session() as session:
        return advance_send_status_in(session, send_id, status)


def advance_send_status_in(session: Session, send_id: str, status: DeliveryStatus) -> bool:
    """`advance_send_status` inside the caller's transaction."""
    result = session.execute(
        update(Send).where(Send.id == send_id, Send.status.in_(_FROM[status])).values(status=status)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
