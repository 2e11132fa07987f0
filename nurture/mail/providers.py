"""Email providers: one interface, chosen by configuration (the outbox is the default).

A provider hands one rendered message over and says how it went, in three ways: it returns
the provider's message id (accepted); it raises `ProviderUnavailable` (not accepted, a
retry is safe, after `retry_after` when the provider names a wait); or `ProviderRejected`
(the provider refused this message: retrying cannot help) or `DeliveryUncertain` (the
provider may have accepted it, and no idempotency key lets us ask: a retry could mail the
lead twice, so we stop and say so). Any other exception counts as "nothing went out" and
is retried (but ValueError, TypeError and LookupError, a message the provider cannot
encode, fail the send), so a provider must convert every failure that happens after the
message may have been accepted into `DeliveryUncertain`.

These are our own errors, not Temporal's: the send activities (activities/email.py,
activities/sales_mail.py) turn them into the error types below, which journey histories
record and the journey matches on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Protocol

# The error type each failure has in Temporal, as journey histories record it.
PROVIDER_UNAVAILABLE = "EmailProviderUnavailable"
PROVIDER_REJECTED = "EmailRejected"
DELIVERY_UNCERTAIN = "EmailDeliveryUncertain"
# Error text lands in the send row and the journey's history: keep it short.
_MAX_DETAIL = 500


@dataclass(frozen=True)
class SendTags:
    """What a provider may know of the send besides the message: opaque ids and our
    labels, never personal data, so it can travel as tags (SendGrid custom_args, headers)
    that come back with the provider's events."""

    send_id: str
    journey_id: str
    lead_id: str
    product: str
    mail_type: str
    send_key: str
    variant: int


class EmailProvider(Protocol):
    """Delivers one message; must be idempotent per `tags.send_id` where it can be."""

    name: str
    # True where delivering the same send again changes nothing (the outbox rewrites one
    # file): a claim left by an attempt that never finished may then be delivered again.
    # Elsewhere that send becomes `uncertain`, never delivered twice.
    redelivery_is_harmless: bool

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        """Hand the message over and return the provider's message id."""
        ...


class ProviderError(Exception):
    """A provider did not plainly accept the message; `detail` says why, shortened (it lands
    in the send row and the journey's history)."""

    def __init__(self, detail: str) -> None:
        self.detail = _short(detail)
        super().__init__(self.detail)


class ProviderUnavailable(ProviderError):
    """Not accepted, so a retry is safe: after `retry_after` (a rate limit's reset) or on
    the activity's own backoff."""

    def __init__(self, detail: str, retry_after: timedelta | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The provider refused this message for good: the send is recorded `failed`."""


class DeliveryUncertain(ProviderError):
    """The provider may have accepted the message: the send is recorded `uncertain` and not
    retried, since a second attempt could reach the lead twice."""


def retry_later(detail: str, *, after: timedelta | None = None) -> ProviderUnavailable:
    """`ProviderUnavailable`, in the words a provider (or a test's fake one) says it with."""
    return ProviderUnavailable(detail, retry_after=after)


def without_recipient(text: str, message: EmailMessage) -> str:
    """A server's reply often quotes the recipient's address ("550 <aiko@…>: no such user");
    errors end up in journey histories, which carry no personal data."""
    for address in message["To"].addresses if message["To"] else ():
        text = re.sub(re.escape(address.addr_spec), "<recipient>", text, flags=re.IGNORECASE)
    return text


def _short(detail: str) -> str:
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 1] + "…"
