"""The "interesting moments" of a hand-off: what the lead did that makes it worth a call now.

Sales reads these before calling, so they say what happened, how often and how recently
("pricing_page 3× this week, last Mar 04 10:12"), in the scenario's event vocabulary,
rather than repeating the score's arithmetic. Computed by the journey from its own events
at the moment of the hand-off: pure and deterministic. They travel in the journey's history
and the CRM payload, so they carry event types, URL paths and document names only, never
query strings (where trackers put addresses and tokens).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from nurture.leads.events import DELIVERY_ENDING_TYPES, NAME_PROPERTIES, BehaviorEvent
from nurture.scoring.score import ScoreBreakdown, scoring_events

WEEK = timedelta(days=7)
RECENT = timedelta(days=30)
MAX_MOMENTS = 10
MAX_DETAILS = 3


def interesting_moments(
    events: Iterable[BehaviorEvent],
    now: datetime,
    score: ScoreBreakdown,
    *,
    event_types: Collection[str] = (),
    timezone: str = "UTC",
    since: datetime | None = None,
) -> list[str]:
    """The repeated-behaviour rules that scored (`event_types`: the scenario's per-event
    rules, which are not repeated here), then the last 30 days by event type, the types
    worth most points first. `since` ignores older events (a lead recycled by sales is
    judged on what it did afterwards)."""
    recent = [
        e
        for e in scoring_events(events, now)
        if now - e.occurred_at <= RECENT
        and (since is None or e.occurred_at >= since)
        and e.type not in DELIVERY_ENDING_TYPES
    ]
    by_type: dict[str, list[BehaviorEvent]] = defaultdict(list)
    for event in recent:
        by_type[event.type].append(event)
    points = {r.rule: r.points for r in score.rules}
    ordered = sorted(by_type, key=lambda t: (-points.get(t, 0), -len(by_type[t]), t))
    zone = ZoneInfo(timezone)
    patterns = [
        f"{r.rule} ({r.detail}, {r.points:+d})"
        for r in score.rules
        if r.points > 0 and not r.rule.startswith("fit: ") and r.rule not in event_types
    ]
    return [*patterns, *(_describe_type(t, by_type[t], now, zone) for t in ordered)][:MAX_MOMENTS]


def _describe_type(kind: str, events: list[BehaviorEvent], now: datetime, zone: ZoneInfo) -> str:
    """`pricing_page 3× this week, 5× in 30 days (last Mar 04 10:12)`."""
    this_week = sum(1 for e in events if now - e.occurred_at <= WEEK)
    if this_week == 0:
        count = f"{len(events)}× in 30 days"
    elif this_week == len(events):
        count = f"{this_week}× this week"
    else:
        count = f"{this_week}× this week, {len(events)}× in 30 days"
    details = _details(events)
    what = f": {', '.join(details)}" if details else ""
    last = max(e.occurred_at for e in events).astimezone(zone)
    return f"{kind} {count}{what} (last {last:%b %d %H:%M})"


def _details(events: list[BehaviorEvent]) -> list[str]:
    """What the events were about, newest first: a document's name, else the page's path."""
    seen: list[str] = []
    for event in sorted(events, key=lambda e: e.occurred_at, reverse=True):
        detail = _name(event) or _path(event.url)
        if detail and detail not in seen:
            seen.append(detail)
    if len(seen) > MAX_DETAILS:
        return [*seen[:MAX_DETAILS], f"+{len(seen) - MAX_DETAILS} more"]
    return seen


def _name(event: BehaviorEvent) -> str | None:
    for key in NAME_PROPERTIES:
        value = event.properties.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:80]
    return None


def _path(url: str | None) -> str | None:
    if not url:
        return None
    path = urlsplit(url).path.rstrip("/")
    return path[:80] or None
