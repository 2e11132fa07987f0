"""Hand-offs in Slack: a Block Kit message per hand-off in the product's sales channel, the
SLA reminder and escalation threaded under it, and Accept / Reject buttons.

The message says what the owner's email says (nurture/mail/sales.py: the same sections,
so no more of the lead than that). The buttons carry a sealed action token (the journey and
the hand-off, AES-SIV under a key derived from NURTURE_SECRET_KEY: nothing readable, nothing
forgeable); Slack posts a click to `POST /v1/webhooks/slack/interactions`, signed with the
app's signing secret, and the click becomes the journey's sales feedback.

Posting goes through the official `slack_sdk`. Slack has no idempotency key, so a post that
may have reached Slack is never repeated: the send row's claim (nurture/sending/claims.py)
makes a second attempt `uncertain` instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import urllib.error
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from nurture.journey.lifecycle import FeedbackOutcome
from nurture.mail.providers import DeliveryUncertain, ProviderRejected, ProviderUnavailable
from nurture.mail.sales import SalesNotice, sales_notice
from nurture.scenario.model import Brand

ACCEPT, REJECT = "handoff_accept", "handoff_reject"
OUTCOMES: dict[str, FeedbackOutcome] = {ACCEPT: "accepted", REJECT: "rejected"}
_KEY_PURPOSE = b"nurture slack action v1"
_KIND = b"s"
HEADER_MAX = 150  # characters of a header block's text
SECTION_MAX = 3000  # characters of a section block's text


@dataclass(frozen=True)
class SlackAction:
    journey_id: str
    handoff_no: int


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESSIV:
    return AESSIV(hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha512).digest())


def action_token(journey_id: str, handoff_no: int, secret: str) -> str:
    sealed = _cipher(secret).encrypt(f"{journey_id}\0{handoff_no}".encode(), [_KIND])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def read_action(token: str, secret: str) -> SlackAction:
    """The journey and hand-off of a button, or ValueError."""
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        journey_id, number = _cipher(secret).decrypt(blob, [_KIND]).decode().split("\0")
        return SlackAction(journey_id, int(number))
    except (ValueError, UnicodeDecodeError, InvalidTag, binascii.Error):
        raise ValueError("invalid hand-off button: it is damaged or not ours") from None


def _escape(text: str) -> str:
    """Slack's mrkdwn: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def handoff_blocks(
    notice: SalesNotice, payload: dict[str, Any], brand: Brand, buttons: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the notice's sections; Accept / Reject when `buttons` (the
    action token) is given."""
    subject, intro, sections = sales_notice(notice, payload, brand)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:HEADER_MAX]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(intro)}},
    ]
    for section in sections:
        lines = "\n".join(f"• {_link_or_text(line)}" for line in section.lines)
        text = f"*{_escape(section.title)}*\n{lines}"[:SECTION_MAX]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if buttons is not None:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _button("Accept", ACCEPT, buttons, "primary"),
                    _button("Reject", REJECT, buttons, "danger"),
                ],
            }
        )
    return subject, blocks


def answered_blocks(blocks: list[dict[str, Any]], said: str) -> list[dict[str, Any]]:
    """The hand-off message once answered: its buttons replaced by who answered how."""
    kept = [block for block in blocks if block.get("type") != "actions"]
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(said)}]}]


def _button(label: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
        "style": style,
    }


def _link_or_text(line: str) -> str:
    if line.startswith(("http://", "https://")) and " " not in line:
        return f"<{line}>"
    return _escape(line)


def slack_client(token: str, base_url: str) -> WebClient:
    """The SDK's client without its own retries: it repeats a request after a reset
    connection, which Slack may already have taken. Our retries are the claim's."""
    return WebClient(token=token, base_url=base_url, timeout=10, retry_handlers=[])


def post_message(
    client: WebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]],
    thread_ts: str | None = None,
) -> str:
    """Post; returns the message's `ts` (what a thread hangs under). Raises the errors
    every channel shares:
    - unavailable: a 429, or a connection refused before anything was sent; retried;
    - rejected: Slack's own error, e.g. `channel_not_found`; final;
    - uncertain: a 5xx, a reset connection or no answer, after which Slack may have the
      message. Slack has no idempotency key, so it is never posted again."""
    try:
        answer = client.chat_postMessage(
            channel=channel, text=text, blocks=json.dumps(blocks), thread_ts=thread_ts
        )
    except SlackApiError as err:
        status = err.response.status_code
        error = err.response.get("error", "unknown") if err.response.data else "unknown"
        if status == 429:
            wait = err.response.headers.get("retry-after", "")
            retry = timedelta(seconds=int(wait)) if str(wait).isdigit() else None
            raise ProviderUnavailable(f"Slack answered 429: {error}", retry) from None
        if status >= 500:
            raise DeliveryUncertain(f"Slack answered {status}: it may have the message") from None
        raise ProviderRejected(f"Slack refused the message: {error}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise ProviderUnavailable(f"Slack cannot be reached: {err.reason}") from None
        raise DeliveryUncertain(f"Slack's answer was lost ({err.reason})") from None
    except (OSError, http.client.HTTPException) as err:  # reset, disconnected, timed out
        raise DeliveryUncertain(f"Slack's answer was lost ({type(err).__name__})") from None
    return str(answer["ts"])
