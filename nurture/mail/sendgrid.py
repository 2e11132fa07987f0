"""SendGrid (v3 mail send) through the official `sendgrid` library.

The message we built (nurture/mail/message.py) is translated into SendGrid's JSON: SendGrid
assembles the MIME itself, so what travels is the parts, the addresses, the unsubscribe
headers, and our ids as `custom_args`, which SendGrid echoes in every Event Webhook event
(nurture/api/sendgrid_webhook.py routes them by `lead_id`, `product`, `send_id`).

SendGrid offers no idempotency key, so how a failed call ends decides whether a retry is
safe. An HTTP error status means SendGrid did not take the message: 408, 429 and 5xx are
retried (after the rate limit's reset when SendGrid names it), other 4xx fail the send with
SendGrid's own error message. A failure to connect or to write the request means SendGrid
never had the whole request: retried. A failure after the request was written (a reset, no
answer within the timeout) may follow an accepted message: the send is left `uncertain` and
not retried, so the lead is never mailed twice (docs/email-providers.md).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any, cast
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Asm,
    Category,
    ClickTracking,
    CustomArg,
    From,
    GroupId,
    Header,
    Mail,
    MailSettings,
    OpenTracking,
    ReplyTo,
    SandBoxMode,
    To,
    TrackingSettings,
)

from nurture.mail.providers import (
    DeliveryUncertain,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SendTags,
    without_recipient,
)

DEFAULT_HOST = "https://api.sendgrid.com"
# Seconds to wait for SendGrid's answer; past it the send is uncertain, not retried.
TIMEOUT = 30.0
# Headers we pass through; SendGrid sets From, To, Subject, Reply-To, Message-ID itself.
PASSED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "X-Nurture-Send-Id")
MAX_CATEGORY = 255  # characters, per SendGrid
# Statuses after which SendGrid did not take the message and asks us to come back.
RETRYABLE_STATUSES = frozenset({408, 429})
# A proxy in front of SendGrid gave up waiting (Bad Gateway, Gateway Timeout): the request
# may have reached SendGrid and been accepted, so a retry could mail the lead twice.
GATEWAY_STATUSES = frozenset({502, 504})
RATE_LIMIT_WAIT = (timedelta(seconds=1), timedelta(hours=1))  # bounds on a named wait


class SendGridProvider:
    """One client per worker; the library's calls are independent, so threads share it."""

    name = "sendgrid"
    redelivery_is_harmless = False

    def __init__(
        self,
        api_key: str,
        *,
        host: str = DEFAULT_HOST,
        sandbox: bool = False,
        unsubscribe_groups: Mapping[str, int] | None = None,
        timeout: float = TIMEOUT,
        tracks: bool = True,
    ) -> None:
        self._client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
        self.sandbox = sandbox
        self.tracks = tracks  # False: Nurture's own links count, SendGrid's would count twice
        self.unsubscribe_groups = dict(unsubscribe_groups or {})
        self.timeout = timeout

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        group = self.unsubscribe_groups.get(f"{tags.product}/{tags.mail_type}")
        payload = mail_payload(
            message, tags, sandbox=self.sandbox, unsubscribe_group=group, tracks=self.tracks
        )
        try:
            response = self._client.client.mail.send.post(
                request_body=payload, timeout=self.timeout
            )
        except HTTPError as err:
            raise self._not_taken(err, message) from None
        except URLError as err:  # raised while connecting or writing the request
            raise ProviderUnavailable(
                f"SendGrid not reached, nothing was sent: {err.reason}; retrying"
            ) from None
        except (OSError, HTTPException) as err:  # after the whole request was written
            raise DeliveryUncertain(
                f"SendGrid's answer was lost ({type(err).__name__}: {err}) after it received "
                "the message: it may have been sent, so it is not retried; check SendGrid's "
                f"activity for send_id {tags.send_id}"
            ) from None
        return str(response.headers.get("X-Message-Id") or "")

    def _not_taken(self, err: HTTPError, message: EmailMessage) -> ProviderError:
        status = int(err.status_code)
        reason = without_recipient(error_messages(err.body), message)
        if status in GATEWAY_STATUSES:
            return DeliveryUncertain(
                f"a gateway answered {status} for SendGrid ({reason}): SendGrid may have "
                "accepted the message behind it, so it is not retried"
            )
        if status in RETRYABLE_STATUSES or status >= 500:
            wait = rate_limit_wait(err.headers, time.time())
            return ProviderUnavailable(
                f"SendGrid answered {status} ({reason}); nothing was sent, retrying"
                + (f" in {wait.total_seconds():.0f} s" if wait else ""),
                retry_after=wait,
            )
        return ProviderRejected(f"SendGrid refused the message ({status}): {reason}")


def mail_payload(
    message: EmailMessage,
    tags: SendTags,
    *,
    sandbox: bool = False,
    unsubscribe_group: int | None = None,
    tracks: bool = True,
) -> dict[str, Any]:
    """The v3 mail-send body for one message to one recipient. `tracks`: False turns
    SendGrid's open and click tracking off for it (Nurture's own links count instead)."""
    sender, recipient = _address(message, "From"), _address(message, "To")
    mail = Mail(
        from_email=From(*sender),
        to_emails=To(*recipient),
        subject=str(message["Subject"]),
        plain_text_content=_part(message, "plain"),
        html_content=_part(message, "html"),
    )
    if message["Reply-To"]:
        mail.reply_to = ReplyTo(*_address(message, "Reply-To"))
    mail.header = [Header(name, str(message[name])) for name in PASSED_HEADERS if message[name]]
    mail.custom_arg = [CustomArg(key, value) for key, value in custom_args(tags).items()]
    mail.category = [Category(name) for name in categories(tags)]
    if unsubscribe_group is not None:
        mail.asm = Asm(GroupId(unsubscribe_group))
    if sandbox:
        mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    if not tracks:
        mail.tracking_settings = TrackingSettings(
            click_tracking=ClickTracking(False, False), open_tracking=OpenTracking(False)
        )
    return cast(dict[str, Any], mail.get())


def custom_args(tags: SendTags) -> dict[str, str]:
    """Our ids, as strings (SendGrid requires string values); echoed in every event."""
    return {
        "journey_id": tags.journey_id,
        "lead_id": tags.lead_id,
        "product": tags.product,
        "send_id": tags.send_id,
        "mail_type": tags.mail_type,
        "send_key": tags.send_key,
        "variant": str(tags.variant),
    }


def categories(tags: SendTags) -> list[str]:
    """Product, mail type and the step without its repeat counter ("cold#2/welcome" →
    "cold/welcome"), so SendGrid's statistics group the same step across repeats."""
    step = re.sub(r"#\d+", "", tags.send_key)
    names = (tags.product, tags.mail_type, step)
    return list(dict.fromkeys(name[:MAX_CATEGORY] for name in names if name))


def error_messages(body: bytes | str | None) -> str:
    """SendGrid's `errors[].message` (with the field it names), or the raw body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body or ""
    try:
        errors = json.loads(text).get("errors") or []
        found = [
            f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"])
            for e in errors
            if isinstance(e, dict) and e.get("message")
        ]
    except (ValueError, AttributeError):
        found = []
    return "; ".join(found) or text.strip() or "no error message"


def rate_limit_wait(headers: Message | Mapping[str, str] | None, now: float) -> timedelta | None:
    """The longer of Retry-After (seconds or an HTTP date) and X-RateLimit-Reset (a Unix
    time), bounded; None when SendGrid names no wait (the activity's backoff applies)."""
    if headers is None:
        return None
    waits = [
        wait
        for wait in (
            _seconds_until(headers.get("Retry-After"), now, relative=True),
            _seconds_until(headers.get("X-RateLimit-Reset"), now, relative=False),
        )
        if wait is not None
    ]
    if not waits:
        return None
    shortest, longest = RATE_LIMIT_WAIT
    return min(max(timedelta(seconds=math.ceil(max(waits))), shortest), longest)


def _seconds_until(value: str | None, now: float, *, relative: bool) -> float | None:
    """A header's wait in seconds: a number (seconds, or a Unix time unless `relative`),
    or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        number = float(value)
        return number if relative else number - now
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def _address(message: EmailMessage, header: str) -> tuple[str, str | None]:
    address = message[header].addresses[0]
    return address.addr_spec, address.display_name or None


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    if part is None:
        raise ValueError(f"the message has no text/{subtype} part")
    return str(cast(EmailMessage, part).get_content())
