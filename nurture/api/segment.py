"""Segment-spec payloads (`track`, `page`, `identify`, `batch`) as Segment and RudderStack
send them, and how they become behaviour events.

Only the fields Nurture uses are validated; the rest of what trackers send (integrations,
library, ...) is accepted and ignored, as the spec expects of a destination.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nurture.events import BehaviorEvent
from nurture.scenario import SLUG, Scenario

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024


class SegmentMessage(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["track", "page", "identify"] | None = None
    # Room is left for the suffixes stored with them ("user:" + userId, messageId + ":product").
    message_id: str = Field(alias="messageId", min_length=1, max_length=120)
    user_id: str | None = Field(default=None, alias="userId", max_length=120)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=120)
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    sent_at: datetime | None = Field(default=None, alias="sentAt")

    @model_validator(mode="after")
    def _someone(self) -> SegmentMessage:
        if not (self.user_id or self.anonymous_id):
            raise ValueError("give userId or anonymousId: events must belong to someone")
        return self

    @field_validator("timestamp", "sent_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps need a timezone, e.g. '2026-11-23T10:00:00Z'")
        return value

    def occurred_at(self, received: datetime) -> datetime:
        """The event's time, never in the future (a client clock ahead of ours is clamped)."""
        moment = self.timestamp or self.sent_at or received
        return min(moment.astimezone(UTC), received)

    def url(self) -> str | None:
        page = self.context.get("page") if isinstance(self.context.get("page"), dict) else {}
        value = self.properties.get("url") or (page or {}).get("url")
        return _clean(str(value))[:2048] if value else None


class TrackMessage(SegmentMessage):
    type: Literal["track"] | None = "track"
    event: str = Field(min_length=1, max_length=200)


class PageMessage(SegmentMessage):
    type: Literal["page"] | None = "page"


class IdentifyMessage(SegmentMessage):
    type: Literal["identify"] | None = "identify"


class Batch(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[dict[str, Any]] = Field(min_length=1, max_length=2000)


def event_type(name: str) -> str:
    """'Document Downloaded' → 'document_downloaded': tracker names to scenario event types."""
    snake = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not snake or not snake[0].isalpha():
        snake = f"event_{snake}"
    return snake[:64]


def track_events(message: SegmentMessage, received: datetime) -> list[BehaviorEvent]:
    assert message.event is not None
    product = message.properties.get("product")
    return [
        BehaviorEvent(
            event_id=message.message_id,
            type=event_type(message.event),
            occurred_at=message.occurred_at(received),
            url=message.url(),
            product=product if isinstance(product, str) and SLUG.match(product) else None,
            properties=_scalars(message.properties),
        )
    ]


def page_events(
    message: SegmentMessage, received: datetime, scenarios: list[Scenario]
) -> list[BehaviorEvent]:
    """A page view becomes each product's event whose URL rule matches, else `page_view`."""
    url = message.url() or ""
    matches = [
        (scenario.product, rule.event)
        for scenario in scenarios
        for rule in scenario.pages
        if rule.url_contains in url
    ]
    base = {
        "occurred_at": message.occurred_at(received),
        "url": message.url(),
        "properties": _scalars({"title": message.name, **message.properties}),
    }
    if not matches:
        return [BehaviorEvent(event_id=message.message_id, type="page_view", **base)]
    return [
        BehaviorEvent(
            event_id=f"{message.message_id}:{product}", type=kind, product=product, **base
        )
        for product, kind in dict(matches).items()
    ]


def _clean(text: str) -> str:
    """Without NUL characters, which PostgreSQL text cannot hold."""
    return text.replace("\x00", "")


def _scalars(properties: dict[str, Any]) -> dict[str, Any]:
    """Keep the flat, small properties scoring rules can match on."""
    kept = {
        _clean(str(k))[:64]: (_clean(v)[:256] if isinstance(v, str) else v)
        for k, v in properties.items()
        if isinstance(v, str | int | float | bool) and v is not None
    }
    return dict(list(kept.items())[:32])
