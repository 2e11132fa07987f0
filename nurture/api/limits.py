"""How many bytes each route's request body may have, declared on the route and enforced by
the Admission middleware while the body streams in (nothing over the limit is buffered).

Tracking follows Segment's documented limits, 32 KB per event and 500 KB per batch. The
others are sized for the largest valid input with room to spare:
- a lead: every field at its maximum length, JSON-escaped, stays under 64 KB;
- a batch of leads: 4 MB (500 leads of ~8 KB; send fewer per call when they are larger);
- sales feedback: a 2,000-character reason and the rest fit in 16 KB;
- SendGrid's Event Webhook: 5 MB per batch of events;
- everything that declares nothing (the unsubscribe forms, GETs): 16 KB.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

LEAD_BYTES = 64 * 1024
LEAD_BATCH_BYTES = 4 * 1024 * 1024
FEEDBACK_BYTES = 16 * 1024
WEBHOOK_BYTES = 5 * 1024 * 1024
DEFAULT_BYTES = 16 * 1024

# Where the middleware notes the limit it enforces, so the declaration can tell it is in force.
ENFORCED = "nurture.max_body"


@dataclass(frozen=True)
class BodyLimit:
    """The dependency `max_body` makes: the route's declared limit, read by the middleware."""

    max_bytes: int

    async def __call__(self, request: Request) -> None:
        if request.scope.get(ENFORCED) != self.max_bytes:
            raise RuntimeError(
                f"{request.url.path} declares a {self.max_bytes} byte body limit but no "
                "Admission middleware enforces it: build the app with create_app()"
            )


def max_body(limit: int) -> BodyLimit:
    return BodyLimit(limit)
