"""Who may send a body, and how large, decided before the body is read.

FastAPI reads and parses a route's body before its dependencies run, so a key check or a
size check written as a dependency comes too late: an unknown caller could make the API
buffer and parse hundreds of megabytes. `Admission` is a pure ASGI middleware in front of
the app. For each request it finds the route (from the routers' own declarations: the
`require(scope)` and `max_body(limit)` dependencies), then:

1. refuses a declared `Content-Length` over the route's limit (413), reading nothing;
2. checks the API key the route requires (401/403), reading nothing; a publishable key
   must come from one of its origins and within its rate limits (429), and its answer
   carries the CORS headers (preflights of the tracker routes are answered here:
   nurture/api/browsers.py);
3. lets the app read the body through a `receive` that counts the bytes as they arrive and
   stops with 413 the moment they pass the limit (chunked bodies have no Content-Length).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.requests import HTTPConnection
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from nurture.api import browsers
from nurture.api.auth import (
    KEY_CHECKED,
    KEY_INFO,
    KeyInfo,
    ScopeCheck,
    check_key,
    key_hash,
    presented_key,
)
from nurture.api.limits import DEFAULT_BYTES, ENFORCED, BodyLimit
from nurture.api.scopes import Scope
from nurture.store.engine import Store

log = logging.getLogger("nurture.api")
STORE_DOWN = "the store is unavailable; nothing was accepted, retry later"


@dataclass(frozen=True)
class Door:
    """One route as the middleware sees it: where, which key scope, how many bytes."""

    methods: frozenset[str]
    path: re.Pattern[str]
    scope: Scope | None
    max_bytes: int


def doors(routers: Iterable[tuple[str, APIRouter]]) -> list[Door]:
    """Each route of the (prefix, router) pairs, with its declared scope and body limit."""
    found = []
    for prefix, router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            declared = [d.dependency for d in route.dependencies]
            scopes = [d.scope for d in declared if isinstance(d, ScopeCheck)]
            limits = [d.max_bytes for d in declared if isinstance(d, BodyLimit)]
            found.append(
                Door(
                    methods=frozenset(route.methods or ()),
                    path=compile_path(prefix + route.path)[0],
                    scope=scopes[0] if scopes else None,
                    max_bytes=limits[0] if limits else DEFAULT_BYTES,
                )
            )
    return found


class BodyTooLarge(HTTPException):
    """Raised from `receive`; FastAPI passes HTTPExceptions from body reading through to the
    app's error handler, which answers in the documented shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over this route's {limit} byte limit")


class Admission:
    """The middleware: see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        doors: list[Door],
        store: Store,
        origins: browsers.PublishedOrigins | None = None,
    ) -> None:
        self.app = app
        self.doors = doors
        self.store = store
        self.origins = origins or browsers.PublishedOrigins(store)
        self.rate_limits = browsers.RateLimits()

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        tracker = path in browsers.TRACKER_PATHS
        if scope["method"] == "OPTIONS" and (tracker or path in browsers.SETTINGS_PATHS):
            await self._preflight(scope, receive, send)
            return
        if tracker:
            browsers.as_json(scope)
        door = self._door(scope)
        limit = door.max_bytes if door else DEFAULT_BYTES
        refusal = _declared_too_large(scope, limit)
        key: KeyInfo | None = None
        if refusal is None and door is not None and door.scope is not None:
            key, refusal = await self._key_refusal(scope, door.scope)
        if refusal is None and key is not None and key.publishable:
            refusal = self._too_fast(scope)
            if refusal is not None:  # the page may read when to retry
                send = browsers.with_headers(send, browsers.cors_headers(_origin(scope)))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if door is not None and door.scope is not None:
            scope[KEY_CHECKED] = door.scope
            scope[KEY_INFO] = key
        if key is not None and key.publishable:  # the page may read the answer
            send = browsers.with_headers(send, browsers.cors_headers(_origin(scope)))
        scope[ENFORCED] = limit
        await self._counted(scope, receive, send, limit)

    async def _preflight(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        """A browser asks whether a page may call a tracker route: by origin alone."""
        origin = _origin(scope)
        try:
            allowed = bool(origin) and await self.origins.allows(origin)
        except OperationalError as err:
            await store_unavailable(err)(scope, receive, send)
            return
        if not allowed:
            detail = (f"no publishable key lists the origin {origin or '(none sent)'}; create "
                      "one with `nurture apikey create --publishable --origin ...`")  # fmt: skip
            await _problem(403, detail)(scope, receive, send)
            return
        answer = Response(status_code=204)
        requested = HTTPConnection(scope).headers.get("access-control-request-headers", "")
        answer.raw_headers.extend(browsers.preflight_headers(origin, requested))
        await answer(scope, receive, send)

    def _too_fast(self, scope: AsgiScope) -> JSONResponse | None:
        """429 when a publishable key, or one visitor with it, sends faster than a page can."""
        connection = HTTPConnection(scope)
        key = presented_key(connection) or ""
        address = connection.client.host if connection.client else ""
        wait = self.rate_limits.retry_after(key_hash(key), address)
        if wait is None:
            return None
        return _problem(
            429,
            f"too many calls with this publishable key from {address or 'this client'}; "
            f"retry in {wait} s",
            {"Retry-After": str(wait)},
        )

    def _door(self, scope: AsgiScope) -> Door | None:
        path, method = _route_path(scope), scope["method"]
        for door in self.doors:
            if method in door.methods and door.path.match(path):
                return door
        return None

    async def _key_refusal(
        self, scope: AsgiScope, required: Scope
    ) -> tuple[KeyInfo | None, JSONResponse | None]:
        try:
            return await check_key(self.store, HTTPConnection(scope), required), None
        except HTTPException as err:
            return None, _problem(err.status_code, str(err.detail), err.headers)
        except OperationalError as err:
            return None, store_unavailable(err)

    async def _counted(self, scope: AsgiScope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a `receive` that refuses the byte past `limit`."""
        counted = 0
        started = False

        async def receive_counted() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_noted(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_counted, send_noted)
        except BodyTooLarge as err:  # read outside FastAPI's handlers: answer here
            if started:
                raise
            await _problem(413, str(err.detail))(scope, receive, send)


def _origin(scope: AsgiScope) -> str:
    return HTTPConnection(scope).headers.get("origin", "")


def _route_path(scope: AsgiScope) -> str:
    """The path the routes are matched against (without a proxy's root_path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def _declared_too_large(scope: AsgiScope, limit: int) -> JSONResponse | None:
    declared = HTTPConnection(scope).headers.get("content-length")
    if declared is None:
        return None
    if not declared.strip().isdigit():
        return _problem(400, f"Content-Length must be a number of bytes, got {declared!r}")
    if int(declared) > limit:
        return _problem(
            413, f"a body of {int(declared)} bytes is over this route's {limit} byte limit"
        )
    return None


def _problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=dict(headers or {}))


def store_unavailable(err: OperationalError) -> JSONResponse:
    """503 when the store is unreachable: nothing was accepted, so the sender retries. The
    driver's message (host, port, database) goes to the log, never to the caller."""
    log.error("store unavailable: %s", err.orig)
    content: dict[str, Any] = {"detail": STORE_DOWN}
    return JSONResponse(status_code=503, content=content, headers={"Retry-After": "5"})
