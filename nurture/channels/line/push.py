"""Pushing a LINE message once: through the Messaging API (the official `line-bot-sdk`) or
into the local outbox.

A push carries `X-Line-Retry-Key`, derived from the send, so LINE itself refuses a second
push of the same send for 24 hours (409, which means "already accepted"): a timed-out push
may be retried without a second message reaching the lead, unlike an email. The errors are
the email providers' (nurture/mail/providers.py), so the send row and the journey treat
both channels alike: `ProviderUnavailable` (429, 5xx, no answer: retried), and
`ProviderRejected` (any other 4xx, with LINE's own message: final).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    Message,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
)
from urllib3.exceptions import HTTPError

from nurture.config import Settings
from nurture.mail.providers import ProviderRejected, ProviderUnavailable

PUSH_TIMEOUT = (5.0, 20.0)  # connect, read (seconds)
# Where the outbox keeps pushes: a dot folder, which no product's name can be.
OUTBOX_FOLDER = ".line"


@dataclass(frozen=True)
class Push:
    send_id: str
    product: str
    to: str  # the LINE user id
    messages: list[dict[str, Any]]

    @property
    def retry_key(self) -> str:
        """A UUID, as LINE requires, that is the same for every attempt of this send."""
        return str(uuid.UUID(bytes=hashlib.sha256(self.send_id.encode()).digest()[:16]))


class LinePusher(Protocol):
    name: str

    def push(self, push: Push) -> str:
        """Hand the messages to LINE; returns LINE's request id (or the outbox's)."""
        ...

    def reply(self, product: str, reply_token: str, text: str) -> None:
        """Answer a user's event with a text (the webhook's courtesy replies)."""
        ...


class LineOutbox:
    """Writes `<outbox>/.line/<product>/<send_id>.json`: the push as it would go to LINE."""

    name = "line-outbox"

    def __init__(self, directory: Path) -> None:
        self.directory = directory / OUTBOX_FOLDER

    def path_for(self, product: str, send_id: str) -> Path:
        return self.directory / product / f"{send_id}.json"

    def push(self, push: Push) -> str:
        path = self.path_for(push.product, push.send_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"to": push.to, "messages": push.messages, "retry_key": push.retry_key}
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, suffix=".partial", delete=False, encoding="utf-8"
        ) as f:
            json.dump(body, f, ensure_ascii=False, indent=2)
        os.replace(f.name, path)
        return push.send_id

    def reply(self, product: str, reply_token: str, text: str) -> None:
        path = self.directory / product / "replies" / f"{reply_token[:64]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"text": text}, ensure_ascii=False), encoding="utf-8")


class LineMessagingApi:
    """The Messaging API, one SDK client per product's channel."""

    name = "line"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, MessagingApi] = {}
        self._lock = threading.Lock()

    def push(self, push: Push) -> str:
        request = PushMessageRequest(
            to=push.to, messages=[Message.from_dict(m) for m in push.messages]
        )
        try:
            answer = self._api(push.product).push_message_with_http_info(
                request, x_line_retry_key=push.retry_key, _request_timeout=PUSH_TIMEOUT
            )
        except ApiException as err:
            if err.status == 409:  # this retry key was accepted before: the push went out
                return _header(err.headers, "x-line-accepted-request-id") or push.send_id
            raise _error(err) from None
        except HTTPError as err:  # no answer: with the retry key, a retry is safe
            raise ProviderUnavailable(f"LINE did not answer: {type(err).__name__}") from None
        return _header(answer.headers, "x-line-request-id") or push.send_id

    def reply(self, product: str, reply_token: str, text: str) -> None:
        """A reply token works once, within a minute; a failed reply is the caller's to log."""
        request = ReplyMessageRequest(
            reply_token=reply_token, messages=[Message.from_dict({"type": "text", "text": text})]
        )
        self._api(product).reply_message(request, _request_timeout=PUSH_TIMEOUT)

    def _api(self, product: str) -> MessagingApi:
        with self._lock:
            api = self._clients.get(product)
            if api is None:
                channel = self.settings.line_channels.get(product)
                if channel is None:
                    raise ProviderRejected(
                        f"no LINE channel for {product}: add it to NURTURE_LINE_CHANNELS"
                    )
                config = Configuration(
                    host=self.settings.line_api_base,
                    access_token=channel.access_token.get_secret_value(),
                )
                api = self._clients[product] = MessagingApi(ApiClient(config))
            return api


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return None


def _error(err: ApiException) -> ProviderUnavailable | ProviderRejected:
    said = _said(err.body)
    status = err.status or 0
    if status == 429 or status >= 500:
        wait = _header(err.headers, "retry-after")
        retry_after = timedelta(seconds=int(wait)) if wait and wait.isdigit() else None
        return ProviderUnavailable(f"LINE answered {status}: {said}", retry_after)
    return ProviderRejected(f"LINE refused the push ({status}): {said}")


def _said(body: Any) -> str:
    """LINE's `message` and `details`, which say what it refused."""
    try:
        parsed = json.loads(body or "{}")
    except (TypeError, ValueError):
        return str(body)[:300]
    details = "; ".join(
        f"{d.get('property', '')}: {d.get('message', '')}" for d in parsed.get("details") or []
    )
    return str(parsed.get("message", "")) + (f" ({details})" if details else "")


def build_line_pusher(settings: Settings) -> LinePusher:
    if settings.line_provider == "line":
        return LineMessagingApi(settings)
    return LineOutbox(settings.outbox_dir)
