"""Behaviour events: what a lead did, as the journey and the scoring rules see it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_PROPERTIES_BYTES = 4096
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Event types the journey itself understands; every other type only scores.
EMAIL_OPEN = "email_open"
EMAIL_CLICK = "email_click"
EMAIL_BOUNCE = "email_bounce"
# A temporary refusal by the receiving server (SendGrid's `blocked`): stored, never routed.
EMAIL_BLOCKED = "email_blocked"
SPAM_REPORT = "spam_report"
# From LINE's webhook (nurture/api/line_webhook.py): the lead linked the product's LINE
# account, followed it again, unfollowed (or blocked) it, or wrote to it.
LINE_LINKED = "line_linked"
LINE_FOLLOW = "line_follow"
LINE_UNFOLLOW = "line_unfollow"
LINE_MESSAGE = "line_message"
DELIVERY_ENDING_TYPES = frozenset({EMAIL_BOUNCE, SPAM_REPORT})
# Properties that name what was downloaded or attended (trackers' usual names): the hand-off's
# interesting moments show them to sales, so scenarios keep them by default.
NAME_PROPERTIES = ("document", "title", "asset", "webinar", "seminar")

# Facts about a send that only the email provider knows (its signed webhook) or the lead's
# own unsubscribe link records. A tracker event must never carry them: a tracker key sits in
# every visitor's browser, and a bounce suppresses all of a lead's email. The journey's own
# types, then the names Segment's Email spec and SendGrid use for the same facts, snake-cased.
PROVIDER_ONLY_TYPES = frozenset({
    EMAIL_OPEN, EMAIL_CLICK, *DELIVERY_ENDING_TYPES,
    "email_opened", "email_clicked", "email_link_clicked", "email_delivered", "email_bounced",
    "email_dropped", "email_deferred", "email_marked_as_spam", "email_spam_report",
    "email_spam_reported", "email_unsubscribe", "email_unsubscribed", "email_resubscribed",
    "bounce", "bounced", "spam", "spamreport", "spam_reported", "marked_as_spam",
    "dropped", "deferred", "delivered", "processed",
    "unsubscribe", "unsubscribed", "group_unsubscribe", "group_resubscribe", "resubscribe",
})  # fmt: skip


def provider_only(event_type: str) -> bool:
    """Whether this event type means something only the provider or the lead may say."""
    return event_type in PROVIDER_ONLY_TYPES


class BehaviorEvent(BaseModel):
    """One thing a lead did. `event_id` is the idempotency key: a repeat is ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(min_length=1, max_length=200)
    type: str
    occurred_at: datetime
    url: str | None = Field(default=None, max_length=2048)
    product: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    def for_template(self) -> dict[str, Any]:
        """What a trigger's template sees as `event`: the behaviour that fired it."""
        return {"type": self.type, "url": self.url or "", "properties": dict(self.properties)}

    @field_validator("type")
    @classmethod
    def _type_is_snake_case(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.match(value):
            raise ValueError(
                f"event type {value!r} must be snake_case: a lowercase letter, then "
                "lowercase letters, digits or '_' (e.g. 'pricing_page')"
            )
        return value

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, default=str, ensure_ascii=False).encode())
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(
                f"properties take {size} bytes, at most {MAX_PROPERTIES_BYTES}: a journey carries "
                "its recent events, so send only what scoring rules match on"
            )
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a timezone, e.g. '2026-11-23T10:00:00Z'")
        return value.astimezone(UTC)

    @property
    def machine_open(self) -> bool:
        """Apple Mail Privacy Protection and scanners open mail; such opens score nothing."""
        return bool(self.properties.get("machine_open"))
