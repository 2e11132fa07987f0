"""Which of our emails a lead opened and clicked: for sales, part of why the lead is hot.

Read from the lead's own events (a human open or click names its send), never from
machine opens (privacy proxies and scanners open everything), and joined to the sends for
the subject the lead saw.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nurture.leads.events import EMAIL_CLICK, EMAIL_OPEN
from nurture.store.engine import Store
from nurture.store.models import Event, Send

MAX_EMAILS = 10


def engaged_emails(store: Store, lead_id: str, product: str) -> list[dict[str, Any]]:
    """The emails of `product` the lead opened or clicked, newest first:
    {subject, mail_type, sent_at, opened, clicked}."""
    with store.session() as session:
        rows = session.execute(
            select(Event.type, Event.properties).where(
                Event.lead_id == lead_id, Event.type.in_((EMAIL_OPEN, EMAIL_CLICK))
            )
        )
        actions: dict[str, set[str]] = {}
        for kind, properties in rows:
            props = properties or {}
            send_id = props.get("send_id")
            if isinstance(send_id, str) and not props.get("machine_open"):
                actions.setdefault(send_id, set()).add(kind)
        if not actions:
            return []
        sends = session.scalars(
            select(Send)
            .where(Send.id.in_(list(actions)), Send.product == product)
            .order_by(Send.journey_time.desc())
            .limit(MAX_EMAILS)
        )
        return [
            {
                "subject": send.subject,
                "mail_type": send.mail_type,
                "sent_at": send.journey_time.isoformat(),
                "opened": True,  # a click is an open too
                "clicked": EMAIL_CLICK in actions[send.id],
            }
            for send in sends
        ]
