"""The engagement report: what each step, trigger email and variant achieved.

Per product × track × step × variant (a trigger email is its own row, on the track
`trigger`): the emails that went out in the period and what their readers did, from the
engagement facts (a machine's open or click is never a reader's) as rolled up onto each
send when they arrive (`sends.ever_*`, nurture/analytics/facts.py), so a report is one
pass over the period's sends, not a reduction of every fact. One SQL aggregate, grouped
by send key and variant; the only Python work is folding a track's re-entries
(`cold#1/welcome`, `cold#2/welcome`) into one row, over groups, never rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import case, func, select

from nurture.journey.rules import step_of
from nurture.store.engine import Store
from nurture.store.models import Send, utcnow

WENT_OUT = ("sent", "delivered", "opened", "clicked", "bounced")
COUNTS = (
    "sent",
    "delivered",
    "bounced",
    "hard_bounced",
    "opened",
    "machine_opened_only",
    "clicked",
    "unsubscribed",
    "spam_reported",
)

# Shown with the report (table footnotes, `definitions` in --json) and in docs/analytics.md.
DEFINITIONS: dict[str, str] = {
    "period": "emails sent on or after `since` and before `until` (UTC); what their readers "
    "did is counted whenever it happened",
    "sent": "emails handed to the provider and accepted (sent, delivered, opened, clicked or "
    "bounced); `uncertain` ones (the worker stopped mid-send) are left out",
    "delivered": "emails the provider reported delivered (SendGrid's webhook; SMTP and the "
    "outbox report no deliveries, so this stays 0 with them)",
    "bounced": "emails with a bounce; hard_bounced: a dead address (the lead is suppressed)",
    "opened": "emails a person opened: a human open, or a human click (a click means the "
    "email was opened, even when the client blocked the pixel); each email once",
    "machine_opened_only": "emails opened only by machines (Apple Mail Privacy Protection, "
    "prefetching, scanners): not counted as opened",
    "clicked": "emails in which a person clicked a link, each email once",
    "unsubscribed": "emails from which the lead unsubscribed (the product or the mail type)",
    "spam_reported": "emails the lead reported as spam",
    "rates": "open, click, unsubscribe, spam and bounce rates are of sent; click-to-open is "
    "clicked / opened",
}


class EngagementRow(BaseModel):
    product: str
    track: str  # `trigger` for trigger emails
    step: str
    variant: str  # A, B, ...
    mail_type: str
    channel: str = "email"  # or line, webhook: a LINE step's sends and its email fallback's
    sent: int
    delivered: int
    bounced: int
    hard_bounced: int
    opened: int
    machine_opened_only: int
    clicked: int
    unsubscribed: int
    spam_reported: int
    open_rate: float | None
    click_rate: float | None
    click_to_open: float | None
    unsubscribe_rate: float | None
    spam_rate: float | None
    bounce_rate: float | None


class EngagementReport(BaseModel):
    since: datetime | None
    until: datetime
    product: str | None
    rows: list[EngagementRow]
    definitions: dict[str, str] = DEFINITIONS


def build_engagement_report(
    store: Store,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> EngagementReport:
    """Every step and trigger email's engagement, per variant, for one product or all."""
    until = until or utcnow()
    query = _aggregate(product, since, until)
    with store.session() as session:
        groups = session.execute(query).mappings().all()
    return EngagementReport(since=since, until=until, product=product, rows=_rows(groups))


def _aggregate(product: str | None, since: datetime | None, until: datetime) -> Any:
    """One row per (product, send key, variant, mail type): sums of the sends' rolled-up
    outcome flags (`sends.ever_*`, kept current as facts arrive), one pass over the sends."""
    machine_only = case((Send.ever_read == 0, Send.ever_opened), else_=0)
    query = (
        select(
            Send.product,
            Send.send_key,
            Send.variant,
            Send.mail_type,
            Send.channel,
            func.count().label("sent"),
            func.sum(Send.ever_delivered).label("delivered"),
            func.sum(Send.ever_bounced).label("bounced"),
            func.sum(Send.ever_hard_bounced).label("hard_bounced"),
            func.sum(Send.ever_read).label("opened"),
            func.sum(machine_only).label("machine_opened_only"),
            func.sum(Send.ever_clicked).label("clicked"),
            func.sum(Send.ever_unsubscribed).label("unsubscribed"),
            func.sum(Send.ever_spam_reported).label("spam_reported"),
        )
        .where(Send.status.in_(WENT_OUT), Send.mail_type != "sales", Send.sent_at < until)
        .group_by(Send.product, Send.send_key, Send.variant, Send.mail_type, Send.channel)
    )
    if product is not None:
        query = query.where(Send.product == product)
    if since is not None:
        query = query.where(Send.sent_at >= since)
    return query


def _rows(groups: Any) -> list[EngagementRow]:
    """Fold the groups of one step (its track's re-entries) into one row per variant."""
    folded: dict[tuple[str, str, str, int, str, str], dict[str, int]] = {}
    for group in groups:
        track, step = step_of(group["send_key"])
        key = (
            group["product"],
            track,
            step,
            group["variant"],
            group["mail_type"],
            group["channel"],
        )
        counts = folded.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name in COUNTS:
            counts[name] += int(group[name] or 0)
    return [_row(key, counts) for key, counts in sorted(folded.items())]


def _row(key: tuple[str, str, str, int, str, str], c: dict[str, int]) -> EngagementRow:
    product, track, step, variant, mail_type, channel = key

    def of(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    return EngagementRow(
        product=product,
        track=track,
        step=step,
        variant=chr(ord("A") + variant),
        mail_type=mail_type,
        channel=channel,
        **c,
        open_rate=of(c["opened"], c["sent"]),
        click_rate=of(c["clicked"], c["sent"]),
        click_to_open=of(c["clicked"], c["opened"]),
        unsubscribe_rate=of(c["unsubscribed"], c["sent"]),
        spam_rate=of(c["spam_reported"], c["sent"]),
        bounce_rate=of(c["bounced"], c["sent"]),
    )
