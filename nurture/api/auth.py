"""API keys: shown once, stored as SHA-256 hashes, each with scopes (ingest, admin)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select

from nurture.db import ApiKey, utcnow
from nurture.store import Store

Scope = Literal["ingest", "admin"]
SCOPES: tuple[Scope, ...] = ("ingest", "admin")
PREFIX = "nk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(store: Store, name: str, scopes: list[Scope]) -> str:
    """A new key; only its hash is kept, so this is the one time it can be read."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes!r}")
    key = PREFIX + secrets.token_urlsafe(32)
    with store.session() as session:
        session.add(ApiKey(name=name, key_hash=_hash(key), scopes=" ".join(sorted(set(scopes)))))
    return key


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


def presented_key(request: Request) -> str | None:
    """`Authorization: Bearer <key>`, `X-API-Key: <key>`, or Basic auth with the key as the
    user name (what Segment's and RudderStack's webhook destinations send)."""
    header = request.headers.get("authorization", "")
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
_known: dict[str, tuple[float, list[str] | None]] = {}
_UNKNOWN: list[str] = ["<not remembered>"]  # a sentinel: the store must be asked


def _remembered(key_hash: str) -> list[str] | None:
    """The key's scopes as seen within the last few seconds (None: unknown or revoked), or
    _UNKNOWN; a busy tracker does not cost a lookup per event, and a revocation takes
    effect within that time."""
    cached = _known.get(key_hash)
    if cached is not None and time.monotonic() - cached[0] < _KEY_TTL:
        return cached[1]
    return _UNKNOWN


def _scopes_of(store: Store, key_hash: str) -> list[str] | None:
    """The key's scopes from the store (None: unknown or revoked), remembered."""
    with store.session() as session:
        row = session.scalars(
            select(ApiKey.scopes).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        ).first()
    scopes = row.split() if row else None
    if len(_known) > 10_000:
        _known.clear()
    _known[key_hash] = (time.monotonic(), scopes)
    return scopes


def require(scope: Scope) -> Callable[[Request], Awaitable[None]]:
    """A dependency that lets a request in only with a live key holding `scope`."""

    async def check(request: Request) -> None:
        key = presented_key(request)
        if not key:
            raise HTTPException(
                401,
                "missing API key: send 'Authorization: Bearer <key>' (create one with "
                "`nurture apikey create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        key_hash = _hash(key)
        scopes = _remembered(key_hash)
        if scopes is _UNKNOWN:
            scopes = await asyncio.to_thread(_scopes_of, request.app.state.store, key_hash)
        if scopes is None:
            raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
        if scope not in scopes and "admin" not in scopes:
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")

    return check


def requires(scope: Scope) -> object:
    return Depends(require(scope))
