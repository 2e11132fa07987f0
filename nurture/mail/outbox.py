"""The outbox provider: every email becomes an .eml file you can open in any mail client."""

from __future__ import annotations

import os
import tempfile
from email.message import EmailMessage
from pathlib import Path

from nurture.mail.providers import SendTags


class OutboxProvider:
    """Writes `<outbox>/<product>/<send_id>.eml`; writing it twice leaves one identical file."""

    name = "outbox"
    redelivery_is_harmless = True  # the same send rewrites the same file

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, product: str, send_id: str) -> Path:
        return self.directory / product / f"{send_id}.eml"

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        path = self.path_for(tags.product, tags.send_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as f:
            f.write(bytes(message))
        os.replace(f.name, path)  # atomic: a reader never sees half a message
        return tags.send_id
