"""A real SMTP server for tests (aiosmtpd): it keeps every message it accepted, and can
refuse or drop a delivery on demand."""

from __future__ import annotations

import asyncio
import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    tls: bool
    authenticated: bool


class Inbox:
    """An aiosmtpd handler: keeps what it accepted; `rcpt_reply` / `data_reply` refuse, and
    `drop_in_data` closes the connection once the whole message arrived, before the 250."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.recipients_tried = 0
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.drop_in_data = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.recipients_tried += 1
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if self.data_reply:
            return self.data_reply
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(server.transport, asyncio.Transport)  # a stream: it can be aborted
        # STARTTLS shows in the session, implicit TLS (SMTPS) in the transport
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                parsed,
                raw,
                tls=tls,
                authenticated=bool(session.authenticated),
            )
        )
        if self.drop_in_data:
            server.transport.abort()
        return "250 2.0.0 queued as 42"


class LocalController(Controller):
    """Listens on a free port the OS picks (port 0), and learns it before the first
    connection."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)  # what loop.create_server returns
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()
