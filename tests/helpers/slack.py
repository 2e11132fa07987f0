"""A local Slack Web API that checks what the real slack_sdk sends, and Slack's request
signature for the clicks tests post to our API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.helpers.json_server import serve_json

TOKEN, SIGNING_SECRET = "xoxb-test-token", "test-slack-signing-secret"
BLOCK_TYPES = {"header", "section", "actions", "context", "divider"}


def signed_click(
    payload: dict[str, Any], secret: str = SIGNING_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A form body as Slack posts an interaction, with its v0 signature headers."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()))
    base = f"v0:{stamp}:".encode() + body
    mac = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Signature": mac,
        "X-Slack-Request-Timestamp": stamp,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return body, headers


@dataclass
class Posted:
    channel: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    ts: str


@dataclass
class SlackApi:
    """`chat.postMessage` as Slack answers it (`ok: false` with Slack's error for what
    Slack would refuse), and `/response/...` URLs that record what replaced a message."""

    messages: list[Posted] = field(default_factory=list)
    replaced: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server, self.url = serve_json(self.answer)
        self.api = self.url + "/api/"

    def answer(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path.startswith("/response/"):
            self.replaced.append(json.loads(body))
            return 200, {"ok": True}, {}
        if path != "/api/chat.postMessage":
            return 404, {"ok": False, "error": "unknown_method"}, {}
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self.fail_next:
            return self.fail_next.pop(0), {"ok": False, "error": "ratelimited"}, {}
        request = json.loads(body)
        blocks = request.get("blocks")
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        problem = _problem(request, blocks)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        ts = f"{1700000000 + len(self.messages)}.000100"
        self.messages.append(
            Posted(request["channel"], request["text"], blocks, request.get("thread_ts"), ts)
        )
        return 200, {"ok": True, "channel": request["channel"], "ts": ts}, {}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _problem(request: dict[str, Any], blocks: Any) -> str | None:
    if not request.get("channel"):
        return "channel_not_found"
    if not request.get("text"):
        return "no_text"
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return "invalid_blocks"
    for block in blocks:
        if block.get("type") not in BLOCK_TYPES:
            return "invalid_blocks"
        if block["type"] == "header" and len(block["text"]["text"]) > 150:
            return "invalid_blocks"
        if block["type"] == "section" and len(block["text"]["text"]) > 3000:
            return "invalid_blocks"
        for element in block.get("elements", []):
            if element.get("type") == "button" and len(element.get("value", "")) > 2000:
                return "invalid_blocks"
    return None
