"""Calls from web pages: CORS for publishable keys, their rate limits, and text/plain bodies.

A browser sends a tracker call to another origin only after a preflight (`OPTIONS`) that
carries no key, so the preflight is answered by origin alone: allowed when a live
publishable key lists that origin (remembered for a few seconds), with the methods and
headers a tracker sends, cached by the browser, credentials never allowed. The call itself
then needs a publishable key listing its `Origin` (nurture/api/auth.py), and its answer
names that origin so the page may read it.

Publishable keys sit in every visitor's page, so they are rate-limited in this process: per
key, and per key and client address (token buckets; 429 with `Retry-After`). Browser SDKs
send JSON as `text/plain` to avoid a preflight (and `sendBeacon` can send nothing else);
on the tracker routes such a body is read as the JSON it is.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from starlette.types import Message, Send
from starlette.types import Scope as AsgiScope

from nurture.store.engine import Store
from nurture.store.models import ApiKey

TRACKER_PATHS = frozenset(
    {"/v1/track", "/v1/page", "/v1/identify", "/v1/batch", "/v1/t", "/v1/p", "/v1/i", "/v1/b"}
    | {"/beacon/v1/batch"}  # RudderStack's sendBeacon batches
)
# What SDKs read as they load (nurture/api/sdk_settings.py): their preflights too.
SETTINGS_PATHS = frozenset({"/v1/sourceConfig/"})
PREFLIGHT_SECONDS = 600
ORIGINS_TTL = 10.0
ALLOWED_HEADERS = "authorization, content-type, x-api-key"
# The headers a preflight may ask for, echoed back: trackers add their own (Segment's
# X-Retry-Count, RudderStack's AnonymousId, SentAt, Rsa-*), and a header grants nothing
# here (the key does; credentials are never allowed). Only header-name characters.
REQUESTED = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")
# Per key and client address: a browser sends a few calls a second at most (a page view,
# some tracks, a batch on unload); per key: every visitor of the site together.
PER_ADDRESS = (20.0, 60.0)  # tokens a second, burst
PER_KEY = (500.0, 1000.0)


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """What lets the page at `origin` read the answer (never with credentials)."""
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", b"Retry-After"),
        (b"vary", b"Origin"),
    ]


def preflight_headers(origin: str, requested: str = "") -> list[tuple[bytes, bytes]]:
    asked = requested.strip()
    allowed = asked if asked and len(asked) <= 1000 and REQUESTED.match(asked) else ""
    return [
        *cors_headers(origin),
        (b"access-control-allow-methods", b"GET, POST"),
        (b"access-control-allow-headers", (allowed or ALLOWED_HEADERS).encode("latin-1")),
        (b"access-control-max-age", str(PREFLIGHT_SECONDS).encode()),
    ]


class PublishedOrigins:
    """The origins some live publishable key lists, read from the store every few seconds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._origins: frozenset[str] = frozenset()
        self._read_at = -math.inf

    async def allows(self, origin: str) -> bool:
        if time.monotonic() - self._read_at > ORIGINS_TTL:
            self._origins = await asyncio.to_thread(self._read)
            self._read_at = time.monotonic()
        return origin in self._origins

    def _read(self) -> frozenset[str]:
        with self.store.session() as session:
            rows = session.scalars(
                select(ApiKey.origins).where(
                    ApiKey.kind == "publishable", ApiKey.revoked_at.is_(None)
                )
            )
            return frozenset(origin for row in rows for origin in (row or "").split())


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    """Token buckets per key and per (key, client address), in this process."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def retry_after(self, key_hash: str, address: str, now: float | None = None) -> int | None:
        """None when the call may go ahead (a token is taken from both buckets), else the
        whole seconds until it may."""
        now = time.monotonic() if now is None else now
        waits = [
            self._wait((key_hash, address), PER_ADDRESS, now),
            self._wait((key_hash,), PER_KEY, now),
        ]
        if any(w > 0 for w in waits):
            return max(1, math.ceil(max(waits)))
        for bucket_key in ((key_hash, address), (key_hash,)):
            self._buckets[bucket_key].tokens -= 1
        return None

    def _wait(self, bucket_key: tuple[str, ...], rate: tuple[float, float], now: float) -> float:
        per_second, burst = rate
        bucket = self._buckets.get(bucket_key)
        if bucket is None:
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            bucket = self._buckets[bucket_key] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * per_second)
        bucket.at = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / per_second


def as_json(scope: AsgiScope) -> None:
    """Read a text/plain tracker body as the JSON the SDKs put in it."""
    headers = [
        (b"content-type", b"application/json")
        if name == b"content-type" and value.split(b";")[0].strip().lower() == b"text/plain"
        else (name, value)
        for name, value in scope["headers"]
    ]
    scope["headers"] = headers


def with_headers(send: Send, extra: Iterable[tuple[bytes, bytes]]) -> Send:
    """`send`, adding `extra` headers to the answer's start."""
    added = list(extra)

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *added]}
        await send(message)

    return sending
