"""Webhook steps: a step handed to the team's own system (an SMS provider, a CRM task) as a
signed JSON POST.

The body is `templates/<name>.webhook.json` rendered like an email (its strings, with the
same variables), wrapped with the send's ids:
`{"send_id", "product", "lead_id", "step", "mail_type", "data": <rendered>}`.

Each POST carries:
- `X-Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under
  NURTURE_STEP_WEBHOOK_SECRET. A receiver checks it with `verify_signature` (or its own
  code) and refuses a timestamp outside its replay window (default 5 minutes).
- `Idempotency-Key: <send_id>`, the same on every attempt of the send, so a receiver drops
  a repeat when our attempt timed out after it had accepted the first.

2xx: sent. 408, 429, 5xx or no answer: retried with backoff. Any other 4xx: refused for good,
the send row records the receiver's status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nurture.mail.providers import ProviderRejected, ProviderUnavailable

SIGNATURE_HEADER = "X-Nurture-Signature"
REPLAY_WINDOW = timedelta(minutes=5)
POST_TIMEOUT = 10.0


def webhook_file(template: str) -> str:
    return f"{template}.webhook.json"


def sign(body: bytes, secret: str, at: datetime) -> str:
    stamp = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify_signature(
    body: bytes, header: str, secret: str, now: datetime, window: timedelta = REPLAY_WINDOW
) -> None:
    """For receivers: raise ValueError unless `header` signs `body` under `secret` within
    `window` of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not given:
        raise ValueError(f"{SIGNATURE_HEADER} must be 't=<unix seconds>,v1=<hex>'")
    if abs(now.timestamp() - int(stamp)) > window.total_seconds():
        raise ValueError("the signature's timestamp is outside the replay window")
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise ValueError("the signature does not verify")


@dataclass(frozen=True)
class StepPost:
    url: str
    send_id: str
    body: dict[str, Any]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET that a 2xx then counts as sent."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(call: StepPost, secret: str, now: datetime) -> str:
    """POST the step; returns the receiver's status. Raises ProviderUnavailable (retry) or
    ProviderRejected (final), the errors every channel shares."""
    body = json.dumps(call.body, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": call.send_id,
        SIGNATURE_HEADER: sign(body, secret, now),
        "User-Agent": "Nurture step webhook",
    }
    request = urllib.request.Request(call.url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=POST_TIMEOUT) as response:
            return str(response.status)
    except urllib.error.HTTPError as err:
        if 300 <= err.code < 400:
            where = err.headers.get("Location", "elsewhere")
            raise ProviderRejected(
                f"the step's webhook answered {err.code} (to {where}): give the final URL"
            ) from None
        if 400 <= err.code < 500 and err.code not in (408, 429):
            raise ProviderRejected(f"the step's webhook refused it with {err.code}") from None
        raise ProviderUnavailable(f"the step's webhook answered {err.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise ProviderUnavailable(f"the step's webhook did not answer: {err}") from None
