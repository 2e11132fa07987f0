"""Email providers: one interface, chosen by configuration (the outbox is the default).

A provider hands one rendered message over and says how it went, in three ways the send
activity understands: it returns the provider's message id (accepted); it raises a
retryable `ApplicationError` (`retry_later`: not accepted, a retry is safe); or a
non-retryable one, either `rejected` (the provider refused this message: retrying cannot
help) or `uncertain` (the provider may have accepted it, and no idempotency key lets us ask:
a retry could mail the lead twice, so we stop and say so). Any other exception counts as
"nothing went out" and is retried, so a provider must convert every failure that happens
after the message may have been accepted into `uncertain`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Protocol

from temporalio.exceptions import ApplicationError

PROVIDER_UNAVAILABLE = "EmailProviderUnavailable"
PROVIDER_REJECTED = "EmailRejected"
DELIVERY_UNCERTAIN = "EmailDeliveryUncertain"
# Error text lands in the send row and the journey's history: keep it short.
_MAX_DETAIL = 500


@dataclass(frozen=True)
class Delivery:
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
    """Delivers one message; must be idempotent per `delivery.send_id` where it can be."""

    name: str
    # True where delivering the same send again changes nothing (the outbox rewrites one
    # file): a claim left by an attempt that never finished may then be delivered again.
    # Elsewhere that send becomes `uncertain`, never delivered twice.
    redelivery_is_harmless: bool

    def deliver(self, message: EmailMessage, delivery: Delivery) -> str:
        """Hand the message over and return the provider's message id."""
        ...


def retry_later(detail: str, *, after: timedelta | None = None) -> ApplicationError:
    """Not accepted, so a retry is safe: after `after` (a rate limit's reset) or on the
    activity's own backoff."""
    return ApplicationError(_short(detail), type=PROVIDER_UNAVAILABLE, next_retry_delay=after)


def rejected(detail: str) -> ApplicationError:
    """The provider refused this message for good: the send is recorded `failed`."""
    return ApplicationError(_short(detail), type=PROVIDER_REJECTED, non_retryable=True)


def uncertain(detail: str) -> ApplicationError:
    """The provider may have accepted the message: the send is recorded `uncertain` and not
    retried, since a second attempt could reach the lead twice."""
    return ApplicationError(_short(detail), type=DELIVERY_UNCERTAIN, non_retryable=True)


def without_recipient(text: str, message: EmailMessage) -> str:
    """A server's reply often quotes the recipient's address ("550 <aiko@…>: no such user");
    errors end up in journey histories, which carry no personal data."""
    for address in message["To"].addresses if message["To"] else ():
        text = re.sub(re.escape(address.addr_spec), "<recipient>", text, flags=re.IGNORECASE)
    return text


def _short(detail: str) -> str:
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 1] + "…"
