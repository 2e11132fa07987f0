"""Opens and clicks seen by Nurture's own pixel and click links: facts, and behaviour.

Each hit becomes an engagement fact with a verdict (a person, or a machine and why), at most
one a minute per send, kind and link, so reloads and replayed links cannot flood the store.
A send's first open by a person, and its first click on each link, also become behaviour
events on the same durable path as tracker events (the `events` table, then the relay to
the lead's journeys), once: a click moves the lead as SendGrid's would, and repeating it
scores nothing more. A machine open is kept as behaviour too, flagged, and scores nothing
(as SendGrid's machine opens); a machine click reaches no journey. The first click of a
scanner with a browser's User-Agent looks like a person's: only its next click on another
link within a second gives it away.

The machine verdicts, each documented in docs/analytics.md:
- a pixel fetched within `PREFETCH_SECONDS` of sending: the receiving server or client
  prefetched it, no one has read the mail yet;
- the User-Agent `Mozilla/5.0` and nothing else: Apple Mail Privacy Protection's proxy,
  which fetches every image of every mail on arrival;
- a User-Agent of a mail-security scanner, link checker or HTTP library (`SCANNER`);
- a click within `SCANNER_SECONDS` of another click on a different link of the same email:
  a scanner following every link, faster than anyone reads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.analytics.facts import Fact, record_facts_in
from nurture.leads.events import EMAIL_CLICK, EMAIL_OPEN, BehaviorEvent
from nurture.sending.status import DeliveryStatus, advance_send_status_in
from nurture.store.engine import Store
from nurture.store.event_log import LoggedEvent, record_events_in
from nurture.store.models import Engagement, Lead, Send

# What of a clicked link is kept, per product (the scenario's `tracking` rules).
Keep = Callable[[str, str], str]
PREFETCH_SECONDS = 2
SCANNER_SECONDS = 1
APPLE_PROXY = "Mozilla/5.0"
SCANNER = re.compile(
    r"barracuda|mimecast|proofpoint|symantec|messagelabs|trend ?micro|forcepoint|zscaler|"
    r"ironport|cisco|sophos|fortinet|bitdefender|safelinks|urlscan|linkcheck|"
    r"bot\b|spider|crawler|python-requests|python-urllib|go-http-client|curl/|wget/|java/",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Hit:
    """One request to the pixel or a click link, as the API saw it."""

    send_id: str
    at: datetime
    user_agent: str
    link: str | None = None  # a click's link, exactly as rendered


def machine_open(sent_at: datetime | None, hit: Hit) -> str | None:
    """Why this pixel fetch was no reader's, or None for a person."""
    if sent_at is not None and hit.at - sent_at < timedelta(seconds=PREFETCH_SECONDS):
        return f"fetched within {PREFETCH_SECONDS} s of sending: a prefetch, not a reader"
    return _machine_agent(hit.user_agent)


def machine_click(
    sent_at: datetime | None, hit: Hit, last: tuple[datetime, str] | None
) -> str | None:
    """Why this click was no reader's, or None for a person. `last`: the previous click on
    this email (its time and link)."""
    if sent_at is not None and hit.at - sent_at < timedelta(seconds=PREFETCH_SECONDS):
        return f"clicked within {PREFETCH_SECONDS} s of sending: a link scanner"
    quick = last is not None and hit.at - last[0] < timedelta(seconds=SCANNER_SECONDS)
    if quick and last is not None and last[1] != hit.link:
        return f"within {SCANNER_SECONDS} s of a click on another link: a link scanner"
    return _machine_agent(hit.user_agent)


def _machine_agent(user_agent: str) -> str | None:
    agent = user_agent.strip()
    if agent == APPLE_PROXY:
        return "User-Agent 'Mozilla/5.0' alone: Apple Mail Privacy Protection's prefetch"
    if not agent:
        return "no User-Agent: not a mail client"
    found = SCANNER.search(agent)
    if found:
        return f"User-Agent of a scanner or HTTP library ({found.group(0)})"
    return None


@dataclass(frozen=True)
class Tracked:
    """A hit to count: the pixel (`opened`) or a click link (`clicked`), and how the
    product's scenario keeps clicked links."""

    hit: Hit
    kind: Literal["opened", "clicked"]
    keep: Keep = field(default=lambda product, link: link)


def record_open(store: Store, hit: Hit) -> bool:
    """The pixel was fetched: a fact, and the open as behaviour. False: not ours to count
    (no such send, or its lead was erased)."""
    return record_hits(store, [Tracked(hit, "opened")])[0] is not None


def record_click(store: Store, hit: Hit, keep: Keep) -> bool:
    """A link was followed: a fact, and a person's click as behaviour (the link as the
    product's `keep` keeps it). False: not ours to count."""
    assert hit.link is not None
    return record_hits(store, [Tracked(hit, "clicked", keep)])[0] is not None


def record_hits(store: Store, hits: Sequence[Tracked]) -> list[str | None]:
    """Count hits in one transaction (the API commits the hits that arrive together as one
    group): one query for their sends, one insert for their facts, one for their events,
    whatever their number. Each answer is the lead of that hit's email, or None when it was
    not ours to count."""
    with store.session() as session:
        return _record_in(session, hits)


def _record_in(session: Session, hits: Sequence[Tracked]) -> list[str | None]:
    sends = {
        row.id: row
        for row in session.execute(
            select(Send.id, Send.product, Send.lead_id, Send.sent_at, Lead.erased_at)
            .join(Lead, Lead.id == Send.lead_id)
            .where(Send.id.in_({t.hit.send_id for t in hits}))
        )
    }
    last_clicks: dict[str, tuple[datetime, str] | None] = {}
    facts: list[Fact] = []
    events: dict[str, LoggedEvent] = {}  # by fact: written only with a fact that is new
    reads: dict[str, DeliveryStatus] = {}
    counted: list[str | None] = []
    for tracked in hits:
        hit, kind = tracked.hit, tracked.kind
        found = sends.get(hit.send_id)
        if found is None or found.erased_at is not None:
            counted.append(None)
            continue
        counted.append(found.lead_id)
        link = tracked.keep(found.product, hit.link)[:2048] if hit.link else None
        if kind == "clicked":
            if hit.send_id not in last_clicks:
                last_clicks[hit.send_id] = _last_click(session, hit.send_id)
            as_kept = replace(hit, link=tracked.keep(found.product, hit.link or ""))
            reason = machine_click(found.sent_at, as_kept, last_clicks[hit.send_id])
            last_clicks[hit.send_id] = (hit.at, as_kept.link or "")  # the next click sees it
        else:
            reason = machine_open(found.sent_at, hit)
        fact = Fact(
            fact_id=_fact_id(hit, kind, reason, link),
            send_id=hit.send_id,
            lead_id=found.lead_id,
            product=found.product,
            kind=kind,
            occurred_at=hit.at,
            source="nurture",
            human=reason is None,
            machine_reason=reason,
            link=link,
        )
        facts.append(fact)
        if kind == "opened" or reason is None:
            event = BehaviorEvent(
                event_id=_event_id(hit, kind, reason, link),
                type=EMAIL_OPEN if kind == "opened" else EMAIL_CLICK,
                occurred_at=hit.at,
                url=link,
                product=found.product,
                properties={"send_id": hit.send_id, "machine_open": reason is not None},
            )
            events.setdefault(fact.fact_id, LoggedEvent(event, lead_id=found.lead_id))
        if reason is None:
            reads[fact.fact_id] = "clicked" if kind == "clicked" else "opened"
    # A repeat within its minute (a reload, a replayed link) is no new fact: it adds no
    # behaviour and moves no status either, so a busy pixel costs one insert per group.
    new = set(record_facts_in(session, facts))
    record_events_in(session, [event for fact_id, event in events.items() if fact_id in new])
    sends_read: dict[str, DeliveryStatus] = {}
    for fact in facts:
        if (
            fact.fact_id in new
            and fact.fact_id in reads
            and sends_read.get(fact.send_id) != "clicked"
        ):
            sends_read[fact.send_id] = reads[fact.fact_id]
    for send_id, status in sends_read.items():
        advance_send_status_in(session, send_id, status)
    return counted


def _fact_id(hit: Hit, kind: str, reason: str | None, link: str | None) -> str:
    """One fact per send, kind, verdict and link a minute: a reader reloading the email, or
    someone replaying a forwarded link, adds no more than that."""
    key = f"{kind}|{reason is None}|{link or ''}|{hit.at:%Y-%m-%dT%H:%M}"
    return f"nt:{hit.send_id}:{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _event_id(hit: Hit, kind: str, reason: str | None, link: str | None) -> str:
    """The journey hears of a send's first open by a person (and first machine open), and of
    the first click on each link, once: repeats add facts, never score twice."""
    key = f"{kind}|{reason is None}|{link or ''}"
    return f"nt:{hit.send_id}:{hashlib.sha256(key.encode()).hexdigest()[:24]}:event"


def _last_click(session: Session, send_id: str) -> tuple[datetime, str] | None:
    last = session.execute(
        select(Engagement.occurred_at, Engagement.link)
        .where(Engagement.send_id == send_id, Engagement.kind == "clicked")
        .order_by(Engagement.occurred_at.desc())
        .limit(1)
    ).one_or_none()
    return None if last is None else (last.occurred_at, last.link or "")
