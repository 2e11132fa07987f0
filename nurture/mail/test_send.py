"""Test sends (`nurture send-test`): a scenario's email, rendered as the worker renders it,
sent through the configured provider to a colleague's address.

A test send has no send row: it never counts in analytics, never touches a lead's weekly
cap, and the provider's events about it (SendGrid echoes `mail_type: test`) are dropped.
It goes only to addresses the `test_recipients` setting allows, so it cannot mail anyone.
"""

from __future__ import annotations

import copy
import uuid
from email.message import EmailMessage
from email.utils import parseaddr

from nurture.mail.providers import EmailProvider, SendTags

TEST_MAIL_TYPE = "test"
SUBJECT_PREFIX = "[TEST] "
TEST_HEADER = "X-Nurture-Test"


class NotAllowed(ValueError):
    """The address is not on the test allow-list; says how to add it."""


def allow_list(setting: str) -> list[str]:
    """`NURTURE_TEST_RECIPIENTS`: comma-separated addresses and @domains, lower-cased."""
    return [entry.strip().lower() for entry in setting.split(",") if entry.strip()]


def check_allowed(address: str, allowed: list[str]) -> str:
    """The address, if the allow-list names it or its @domain; else NotAllowed."""
    _, parsed = parseaddr(address)
    address = parsed.strip().lower()
    domain = address.rpartition("@")[2]
    if not address or "@" not in address or not domain:
        raise NotAllowed(f"{address!r} is not an email address")
    if address in allowed or f"@{domain}" in allowed:
        return address
    listed = ", ".join(allowed) or "nothing yet"
    raise NotAllowed(
        f"{address} is not allowed to receive test sends (allowed: {listed}); add it or "
        f"@{domain} to NURTURE_TEST_RECIPIENTS (comma-separated)"
    )


def as_test(message: EmailMessage, to: str) -> EmailMessage:
    """The message for `to`: subject prefixed [TEST], marked with a header, nothing else
    changed (links, unsubscribe headers and content as the lead would get them)."""
    test = copy.deepcopy(message)
    test.replace_header("To", to)
    test.replace_header("Subject", SUBJECT_PREFIX + str(message["Subject"]))
    test[TEST_HEADER] = "true"
    return test


def send_test(
    provider: EmailProvider,
    message: EmailMessage,
    *,
    to: str,
    product: str,
    label: str,
    variant: int,
) -> str:
    """Deliver the test; the provider's message id."""
    tags = SendTags(
        send_id=f"test_{uuid.uuid4().hex[:24]}",
        journey_id=f"test:{product}",
        lead_id="test",
        product=product,
        mail_type=TEST_MAIL_TYPE,
        send_key=label,
        variant=variant,
    )
    return provider.deliver(as_test(message, to), tags)
