"""A local LINE Messaging API that checks what the real SDK sends, and LINE's webhook
signature for the events tests post to our API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from nurture.config import LineChannel
from tests.helpers.json_server import serve_json

TOKEN, SECRET = "test-line-token", "test-line-secret"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def channel() -> LineChannel:
    return LineChannel.model_validate({"access_token": TOKEN, "secret": SECRET})


def signed(body: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its headers as LINE signs them (HMAC-SHA256, base64)."""
    raw = json.dumps(body).encode()
    mac = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return raw, {"X-Line-Signature": mac, "Content-Type": "application/json"}


@dataclass
class Pushed:
    to: str
    messages: list[dict[str, Any]]
    retry_key: str


@dataclass
class LineApi:
    """Answers `POST /v2/bot/message/push` as LINE does: 400 with LINE's `message` and
    `details` for a request LINE would refuse (bad token, no retry key, >5 messages, text
    over 5,000 characters, altText over 1,500), 409 for a retry key it accepted before.
    `fail_next`: statuses to answer the next pushes with (an outage, a rate limit)."""

    pushes: list[Pushed] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server, self.url = serve_json(self.answer)

    def answer(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path not in ("/v2/bot/message/push", "/v2/bot/message/reply"):
            return 404, {"message": "Not found"}, {}
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Authentication failed"}, {}
        if path.endswith("/reply"):
            self.replies.append(json.loads(body))
            return 200, {"sentMessages": [{"id": "2"}]}, {}
        key = headers.get("X-Line-Retry-Key", "")
        if not UUID.match(key):
            return self._refuse("The retry key must be a UUID")
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {"message": "The API rate limit has been exceeded"}, {"Retry-After": "2"}
        if any(p.retry_key == key for p in self.pushes):
            return (
                409,
                {"message": "The retry key is already accepted"},
                {"x-line-accepted-request-id": "accepted-" + key[:8]},
            )
        request = json.loads(body)
        problem = _problem(request)
        if problem:
            return self._refuse(problem)
        self.pushes.append(Pushed(request["to"], request["messages"], key))
        return 200, {"sentMessages": [{"id": "1"}]}, {"x-line-request-id": "req-" + key[:8]}

    def _refuse(self, problem: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.refused.append(problem)
        details = [{"message": problem, "property": "messages"}]
        return 400, {"message": "The request body has 1 error(s)", "details": details}, {}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _problem(request: dict[str, Any]) -> str | None:
    messages = request.get("messages")
    if not isinstance(request.get("to"), str) or not isinstance(messages, list):
        return "to and messages are required"
    if not 1 <= len(messages) <= 5:
        return "Size must be between 1 and 5"
    for message in messages:
        if message.get("type") == "text" and not 1 <= len(message.get("text", "")) <= 5000:
            return "text: Length must be between 1 and 5000"
        if message.get("type") == "flex" and not 1 <= len(message.get("altText", "")) <= 1500:
            return "altText: Length must be between 1 and 1500"
        if message.get("type") not in ("text", "flex"):
            return f"unexpected message type {message.get('type')!r}"
    return None
