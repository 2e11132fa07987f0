"""Email providers: one interface, chosen by configuration (the outbox is the default)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class EmailProvider(Protocol):
    """Delivers one message; must be idempotent per `send_id` where the provider allows it."""

    name: str

    def deliver(self, message: EmailMessage, *, send_id: str, product: str) -> str:
        """Hand the message over and return the provider's message id."""
        ...
