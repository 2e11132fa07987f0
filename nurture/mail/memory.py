"""An email provider that keeps messages in memory: what `nurture simulate` sends to."""

from __future__ import annotations

from email.message import EmailMessage

from nurture.mail.providers import SendTags


class MemoryProvider:
    """Delivers nothing: keeps each message by send id (a redelivery replaces it)."""

    name = "memory"
    redelivery_is_harmless = True

    def __init__(self) -> None:
        self.messages: dict[str, tuple[EmailMessage, SendTags]] = {}

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        self.messages[tags.send_id] = (message, tags)
        return tags.send_id
