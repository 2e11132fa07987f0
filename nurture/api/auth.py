"""API keys: shown once, stored as SHA-256 hashes, each with scopes (see `nurture.api.scopes`).

The key is checked by the `Admission` middleware before the request body is read (an
unknown caller must not make the API buffer or parse anything); the `require` dependency
declares the scope a route needs and checks it again, cheaply, from the remembered keys.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from starlette.requests import HTTPConnection

from nurture.api.scopes import SCOPES, Scope, scope_problem
from nurture.store.engine import Store
from nurture.store.models import ApiKey, utcnow

PREFIX = "nk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(store: Store, name: str, scopes: list[Scope]) -> str:
    """A new key; only its hash is kept, so this is the one time it can be read."""
    problem = scope_problem(list(scopes))
    if problem:
        raise ValueError(problem)
    key = PREFIX + secrets.token_urlsafe(32)
    with store.session() as session:
        session.add(ApiKey(name=name, key_hash=_hash(key), scopes=" ".join(sorted(set(scopes)))))
    return key


def create_publishable_key(store: Store, name: str, origins: list[str], products: list[str]) -> str:
    """A key for a web page: `ingest` only, usable from `origins` only, for events that name
    one of `products` (or none). It is shown to every visitor, so it can do nothing else."""
    problems = [origin_problem(origin) for origin in origins]
    if not origins or any(problems):
        found = "; ".join(p for p in problems if p) or "no --origin given"
        raise ValueError(f"{found}. A publishable key needs the origins of the pages that "
                         "use it, e.g. --origin https://www.example.jp")  # fmt: skip
    key = PREFIX + "pub_" + secrets.token_urlsafe(32)
    with store.session() as session:
        session.add(
            ApiKey(
                name=name,
                key_hash=_hash(key),
                scopes="ingest",
                kind="publishable",
                origins=" ".join(sorted(set(origins))),
                products=" ".join(sorted(set(products))) or None,
            )
        )
    return key


def origin_problem(origin: str) -> str | None:
    """What is wrong with a web origin as a browser sends it (scheme://host[:port])."""
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or origin != origin.strip().lower().rstrip("/")
    ):
        return f"{origin!r} is not a web origin (scheme://host[:port], lower case, no path)"
    return None


def list_api_keys(store: Store) -> list[ApiKey]:
    """Every live key (hashes only), oldest first."""
    with store.session() as session:
        keys = list(
            session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.id))
        )
        session.expunge_all()
    return keys


def revoke_api_keys(store: Store, name: str) -> int:
    """Revoke every live key of that name; returns how many. Processes that remembered a key
    stop accepting it within _KEY_TTL seconds."""
    with store.session() as session:
        keys = list(
            session.scalars(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
        )
        for key in keys:
            key.revoked_at = utcnow()
    _known.clear()  # this process at once
    return len(keys)


KEY_PARAMETER = "writeKey"


def presented_key(request: HTTPConnection) -> str | None:
    """`Authorization: Bearer <key>`, `X-API-Key: <key>`, or Basic auth with the key as the
    user name (what Segment's and RudderStack's webhook destinations send); or, for a
    publishable key only, `?writeKey=` (a page's `sendBeacon` can set no header)."""
    header = request.headers.get("authorization", "")
    if not header and "x-api-key" not in request.headers:
        return request.query_params.get(KEY_PARAMETER)
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if header.lower().startswith("basic "):
        try:
            user = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return None
        return user or None
    return request.headers.get("x-api-key")


_KEY_TTL = 10.0


@dataclass(frozen=True)
class KeyInfo:
    """What a live key may do: its scopes and, for a publishable key (one that sits in a
    web page), the origins it may be used from and the products its events may name."""

    scopes: tuple[str, ...]
    kind: str = "secret"
    origins: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()

    @property
    def publishable(self) -> bool:
        return self.kind == "publishable"


_known: dict[str, tuple[float, KeyInfo | None]] = {}
_UNKNOWN = KeyInfo(scopes=("<not remembered>",))  # a sentinel: the store must be asked


def _remembered(key_hash: str) -> KeyInfo | None:
    """The key as seen within the last few seconds (None: unknown or revoked), or _UNKNOWN;
    a busy tracker does not cost a lookup per event, and a revocation takes effect within
    that time."""
    cached = _known.get(key_hash)
    if cached is not None and time.monotonic() - cached[0] < _KEY_TTL:
        return cached[1]
    return _UNKNOWN


def _key_of(store: Store, key_hash: str) -> KeyInfo | None:
    """The key from the store (None: unknown or revoked), remembered."""
    with store.session() as session:
        row = session.scalars(
            select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        ).first()
        info = (
            KeyInfo(
                scopes=tuple(row.scopes.split()),
                kind=row.kind,
                origins=frozenset((row.origins or "").split()),
                products=frozenset((row.products or "").split()),
            )
            if row
            else None
        )
    if len(_known) > 10_000:
        _known.clear()
    _known[key_hash] = (time.monotonic(), info)
    return info


def key_hash(key: str) -> str:
    """How the store knows a key (the dashboard's session keeps this, never the key)."""
    return _hash(key)


async def live_key(store: Store, hashed: str) -> KeyInfo | None:
    """A live key by its hash (None: unknown or revoked), remembered briefly."""
    info = _remembered(hashed)
    if info is _UNKNOWN:
        info = await asyncio.to_thread(_key_of, store, hashed)
    return info


async def live_scopes(store: Store, hashed: str) -> list[str] | None:
    """The scopes of a live key by its hash (None: unknown or revoked)."""
    info = await live_key(store, hashed)
    return list(info.scopes) if info else None


async def check_key(store: Store, connection: HTTPConnection, scope: Scope) -> KeyInfo:
    """Raise 401 unless a live key was presented, 403 unless it holds `scope` (or admin)
    and, for a publishable key, comes from one of its origins. Reads the headers only,
    never the body."""
    key = presented_key(connection)
    if not key:
        raise HTTPException(
            401,
            "missing API key: send 'Authorization: Bearer <key>' (create one with "
            "`nurture apikey create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    info = await live_key(store, _hash(key))
    if info is None:
        raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    if not info.publishable and KEY_PARAMETER in connection.query_params:
        raise HTTPException(
            401,
            "only a publishable key may be sent in the URL (?writeKey=): URLs end up in logs. "
            "Send this key as 'Authorization: Bearer <key>'",
            {"WWW-Authenticate": "Bearer"},
        )
    if scope not in info.scopes and "admin" not in info.scopes:
        raise HTTPException(
            403,
            f"this API key lacks the {scope!r} scope ({SCOPES[scope]}); it holds "
            f"{', '.join(info.scopes)}. Use a key made with "
            f"`nurture apikey create --scope {scope}`",
        )
    origin = connection.headers.get("origin")
    if info.publishable and origin not in info.origins:
        raise HTTPException(
            403,
            f"this publishable key is not for the origin {origin or '(none sent)'}: it may be "
            f"used from {', '.join(sorted(info.origins))}. Add the origin with a new key "
            "(`nurture apikey create --publishable --origin ...`)",
        )
    return info


# Where the Admission middleware notes the scope it checked the request's key for, and the key.
KEY_CHECKED = "nurture.key_scope"
KEY_INFO = "nurture.key"


@dataclass(frozen=True)
class ScopeCheck:
    """The dependency `require` makes. The Admission middleware reads `scope` from a route's
    dependencies to check the key before the body is read, and notes it in the request;
    this checks the key only where no middleware did."""

    scope: Scope

    async def __call__(self, request: Request) -> None:
        if request.scope.get(KEY_CHECKED) != self.scope:
            await check_key(request.app.state.store, request, self.scope)


def require(scope: Scope) -> ScopeCheck:
    """A dependency that lets a request in only with a live key holding `scope`."""
    return ScopeCheck(scope)


def requires(scope: Scope) -> object:
    return Depends(require(scope))
