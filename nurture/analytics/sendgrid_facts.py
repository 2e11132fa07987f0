"""SendGrid's Event Webhook events as engagement facts (what SendGrid documents, mapped once).

`open` with `sg_machine_open: true` is SendGrid's own verdict that a machine fetched the
pixel (Apple Mail Privacy Protection and similar prefetching); a `bounce` of `type: blocked`
is a temporary refusal by the receiving server, a soft bounce; `group_unsubscribe` stops one
mail type (the send's), `unsubscribe` the product. `dropped` and `processed` are SendGrid's
own bookkeeping before delivery and are not facts about the lead's mailbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nurture.analytics.facts import Fact, FactKind

KINDS: dict[str, FactKind] = {
    "delivered": "delivered",
    "bounce": "bounced",
    "deferred": "deferred",
    "open": "opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "spamreport": "spam_reported",
}
MACHINE_OPEN = "SendGrid sg_machine_open: prefetched by the mail client (e.g. Apple Mail MPP)"


def fact_of(raw: dict[str, Any], link: Callable[[str], str], now: datetime) -> Fact | None:
    """The fact one webhook event states about one of our sends, or None (not ours, or
    nothing about the send). `link` keeps of a clicked URL what the scenario keeps."""
    kind = KINDS.get(str(raw.get("event")))
    ids = [raw.get(key) for key in ("sg_event_id", "send_id", "lead_id", "product")]
    if kind is None or not all(isinstance(value, str) and value for value in ids):
        return None
    stamp = raw.get("timestamp")
    occurred = datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int | float) else now
    machine = kind == "opened" and bool(raw.get("sg_machine_open"))
    url = raw.get("url")
    return Fact(
        fact_id=f"sg:{raw['sg_event_id']}",
        send_id=str(raw["send_id"]),
        lead_id=str(raw["lead_id"]),
        product=str(raw["product"]),
        kind=kind,
        occurred_at=min(occurred, now),
        source="sendgrid",
        human=(not machine) if kind in ("opened", "clicked") else None,
        machine_reason=MACHINE_OPEN if machine else None,
        link=link(url)[:2048] if kind == "clicked" and isinstance(url, str) else None,
        bounce=("soft" if raw.get("type") == "blocked" else "hard") if kind == "bounced" else None,
        scope=_scope(raw) if kind == "unsubscribed" else None,
    )


def _scope(raw: dict[str, Any]) -> str:
    mail_type = raw.get("mail_type")
    if raw.get("event") == "group_unsubscribe" and isinstance(mail_type, str):
        return mail_type[:20]
    return "product"
