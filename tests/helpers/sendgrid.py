"""A local SendGrid: a server that checks what the real `sendgrid` client sends."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# SendGrid sets these itself; a request naming them in `headers` is refused.
RESERVED_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}


@dataclass
class Reply:
    """What the endpoint does with the next request: answer `status`, or `reset` the
    connection after reading the whole request, or `hang` without answering."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    reset: bool = False
    hang: bool = False


def problems_with(payload: dict[str, Any]) -> list[str]:
    """What SendGrid's v3 mail-send reference requires of a request body."""
    found = []
    personalizations = payload.get("personalizations")
    if not personalizations or not all(p.get("to") for p in personalizations):
        found.append("personalizations[].to is required")
    for p in personalizations or []:
        for to in p.get("to", []):
            if "@" not in to.get("email", ""):
                found.append(f"personalizations[].to[].email invalid: {to}")
    if "@" not in payload.get("from", {}).get("email", ""):
        found.append("from.email is required")
    if not isinstance(payload.get("subject"), str) or not payload["subject"]:
        found.append("subject is required")
    types = [c.get("type") for c in payload.get("content", [])]
    if types != ["text/plain", "text/html"]:
        found.append(f"content must be text/plain then text/html, got {types}")
    if not all(isinstance(c.get("value"), str) and c["value"] for c in payload["content"]):
        found.append("content[].value must be non-empty strings")
    custom_args = payload.get("custom_args", {})
    if not all(isinstance(v, str) for v in custom_args.values()):
        found.append(f"custom_args values must be strings: {custom_args}")
    if len(json.dumps(custom_args).encode()) >= 10_000:
        found.append("custom_args must stay under 10,000 bytes")
    categories = payload.get("categories", [])
    if len(categories) > 10 or not all(isinstance(c, str) and len(c) <= 255 for c in categories):
        found.append(f"categories: at most 10 strings of at most 255 characters: {categories}")
    headers = payload.get("headers", {})
    if not all(isinstance(v, str) for v in headers.values()):
        found.append("headers values must be strings")
    if reserved := {h.lower() for h in headers} & RESERVED_HEADERS:
        found.append(f"headers may not set {reserved}")
    if "asm" in payload and type(payload["asm"].get("group_id")) is not int:
        found.append("asm.group_id must be an integer")
    sandbox = payload.get("mail_settings", {}).get("sandbox_mode", {"enable": False})
    if not isinstance(sandbox.get("enable"), bool):
        found.append("mail_settings.sandbox_mode.enable must be a boolean")
    return found


API_KEY = "SG.test-key"


class FakeSendGrid:
    """POST /v3/mail/send on 127.0.0.1: records every request it received in full, then does
    what the next queued `Reply` says (202 with an X-Message-Id by default)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.replies: list[Reply] = []
        self.release = threading.Event()  # ends a hanging reply
        self.delay = 0.0  # seconds between taking a request and answering it
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((dict(self.headers), body))
                time.sleep(fake.delay)  # taken: a client that dies now still sent it
                reply = fake.replies.pop(0) if fake.replies else Reply()
                if reply.reset:  # RST after the whole request arrived: the answer is lost
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.connection.close()
                    self.close_connection = True
                    return
                if reply.hang:
                    fake.release.wait()
                    return
                if reply.status == 202:
                    reply = fake._checked(self.path, dict(self.headers), body)
                self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode() if reply.body else b""
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def _checked(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        if headers.get("Authorization") != f"Bearer {API_KEY}":
            return Reply(401, body={"errors": [{"message": "authorization required"}]})
        found = problems_with(body) if path == "/v3/mail/send" else [f"no route {path}"]
        if found:
            return Reply(400, body={"errors": [{"message": m} for m in found]})
        return Reply(202, headers={"X-Message-Id": f"sg-{len(self.requests)}"})

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [body for _, body in self.requests]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
