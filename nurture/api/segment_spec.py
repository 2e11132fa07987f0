"""Segment-spec payloads (`track`, `page`, `identify`, `batch`) as Segment and RudderStack
send them, and how they become behaviour events.

Only the fields Nurture uses are validated; the rest of what trackers send (integrations,
library, ...) is accepted and ignored, as the spec expects of a destination. Of URLs and
properties only what a scenario names is kept (`nurture.leads.tracking_privacy`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from nurture.api.timestamps import Timestamp
from nurture.leads.events import BehaviorEvent
from nurture.leads.tracking_privacy import TrackingPolicy, policy_for
from nurture.scenario.model import SLUG, Scenario

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
# "userId or anonymousId", as JSON Schema says it: RudderStack sends `"userId": ""` for
# visitors it does not know, so an empty one is allowed beside a non-empty other.
SOMEONE: JsonDict = {
    "anyOf": [
        {"required": [key], "properties": {key: {"type": "string", "minLength": 1}}}
        for key in ("userId", "anonymousId")
    ]
}


class SegmentMessage(BaseModel):
    # By alias only (`userId`, never `user_id`): any other key is an extra the spec allows,
    # so `"user_id": {...}` from a tracker is ignored, not refused.
    model_config = ConfigDict(
        extra="allow", validate_by_name=False, validate_by_alias=True, json_schema_extra=SOMEONE
    )

    type: Literal["track", "page", "identify"] | None = None
    # Room is left for the suffixes stored with them ("user:" + userId, messageId + ":product").
    message_id: str = Field(alias="messageId", min_length=1, max_length=120)
    user_id: str | None = Field(default=None, alias="userId", max_length=120)
    anonymous_id: str | None = Field(default=None, alias="anonymousId", max_length=120)
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(
        default_factory=dict,
        description="identify: email, firstName, lastName, company and title fill a new "
        "lead; a trait named like a custom attribute a scenario declares sets it (a value "
        "not of its type is a 422); other traits are ignored",
    )
    context: dict[str, Any] = Field(default_factory=dict)
    timestamp: Timestamp | None = None
    sent_at: Timestamp | None = Field(default=None, alias="sentAt")

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

    def url(self, policy: TrackingPolicy) -> str | None:
        """The page's URL with only what `policy` keeps of its query (none of its fragment)."""
        page = self.context.get("page") if isinstance(self.context.get("page"), dict) else {}
        value = self.properties.get("url") or (page or {}).get("url")
        return policy.url(_clean(str(value)))[:2048] if value else None


class TrackMessage(SegmentMessage):
    type: Literal["track"] | None = "track"
    event: str = Field(
        min_length=1,
        max_length=200,
        description="what the lead did ('Document Downloaded' becomes document_downloaded). "
        "Names of delivery facts (opens, clicks, bounces, spam reports, unsubscribes, in any "
        "case or spacing) are refused with 422: only the signed provider webhook and the "
        "lead's unsubscribe link say those",
    )


class PageMessage(SegmentMessage):
    type: Literal["page"] | None = "page"


class IdentifyMessage(SegmentMessage):
    type: Literal["identify"] | None = "identify"


class BatchTrack(TrackMessage):
    type: Literal["track"]


class BatchPage(PageMessage):
    type: Literal["page"]


class BatchIdentify(IdentifyMessage):
    type: Literal["identify"]


BatchItem = Annotated[
    Annotated[BatchTrack, Tag("track")]
    | Annotated[BatchPage, Tag("page")]
    | Annotated[BatchIdentify, Tag("identify")],
    Discriminator(
        lambda item: item.get("type") if isinstance(item, dict) else getattr(item, "type", None),
        custom_error_type="batch_type",
        custom_error_message="type must be track, page or identify",
    ),
]


# Segment calls Nurture has no use for: in a batch they are left out, not an error, so the
# batch's other events are kept (an SDK does not resend a refused batch).
IGNORED_TYPES = frozenset({"group", "alias", "screen"})


class Batch(BaseModel):
    """Each item says its `type`; the schema documents each kind (a discriminated union).
    Group, alias and screen calls are left out."""

    model_config = ConfigDict(extra="allow")

    batch: list[BatchItem] = Field(min_length=1, max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _leave_out_other_calls(cls, data: Any) -> Any:
        items = data.get("batch") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return data
        kept = [
            i for i in items if not (isinstance(i, dict) and str(i.get("type")) in IGNORED_TYPES)
        ]
        return {**data, "batch": kept}


def event_type(name: str) -> str:
    """'Document Downloaded' → 'document_downloaded': tracker names to scenario event types."""
    snake = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not snake or not snake[0].isalpha():
        snake = f"event_{snake}"
    return snake[:64]


def track_events(
    message: SegmentMessage, received: datetime, scenarios: list[Scenario]
) -> list[BehaviorEvent]:
    """A track call becomes one event, with what its product's scenario keeps of it."""
    assert message.event is not None
    product = message.properties.get("product")
    product = product if isinstance(product, str) and SLUG.match(product) else None
    policy = policy_for(scenarios, product)
    return [
        BehaviorEvent(
            event_id=message.message_id,
            type=event_type(message.event),
            occurred_at=message.occurred_at(received),
            url=message.url(policy),
            product=product,
            properties=policy.properties(_scalars(message.properties)),
        )
    ]


def page_events(
    message: SegmentMessage, received: datetime, scenarios: list[Scenario]
) -> list[BehaviorEvent]:
    """A page view becomes each product's event whose URL rule matches, else `page_view`.
    Rules match the URL as journeys will see it (stripped of what no product keeps)."""
    url = message.url(policy_for(scenarios, None)) or ""
    matches = [
        (scenario.product, rule.event)
        for scenario in scenarios
        for rule in scenario.pages
        if rule.url_contains in url
    ]
    properties = _scalars({"title": message.name, **message.properties})

    def event(event_id: str, kind: str, product: str | None) -> BehaviorEvent:
        policy = policy_for(scenarios, product)
        return BehaviorEvent(
            event_id=event_id,
            type=kind,
            product=product,
            occurred_at=message.occurred_at(received),
            url=message.url(policy),
            properties=policy.properties(properties),
        )

    if not matches:
        return [event(message.message_id, "page_view", None)]
    return [
        event(f"{message.message_id}:{product}", kind, product)
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
