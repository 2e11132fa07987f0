"""SMTP through smtplib: any relay, or Mailpit in docker-compose.

One connection per message (a worker sends a few emails a second at most; a pooled
connection would add state that a dying thread can corrupt). The SMTP dialogue tells us
exactly when the server takes responsibility for a message: the reply to the end of DATA.
Before that, a failure means nothing was taken: 4xx replies, a refused or dropped
connection are retried, 5xx replies fail the send with the server's words. A connection
lost during DATA may have lost only the server's "250": the send is left `uncertain`, not
retried, so the lead is never mailed twice (docs/email-providers.md).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from nurture.mail.providers import (
    DeliveryUncertain,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SendTags,
    without_recipient,
)

# Seconds for each network operation; a DATA reply slower than this leaves the send uncertain.
TIMEOUT = 30.0


class SmtpProvider:
    """Connects, optionally upgrades (STARTTLS) or starts in TLS, logs in, sends, quits."""

    name = "smtp"
    redelivery_is_harmless = False

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        if starttls and implicit_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        if not (username or "").isascii() or not (password or "").isascii():
            raise ValueError("smtplib sends user names and passwords as ASCII only")
        self.host = host
        self.port = port or (465 if implicit_tls else 587 if starttls else 25)
        self.username, self.password = username, password
        self.starttls, self.implicit_tls = starttls, implicit_tls
        # The system's trust store (SSL_CERT_FILE is honoured) and hostname checking.
        self.tls_context = tls_context or ssl.create_default_context()
        self.timeout = timeout

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        tag(message, tags)
        sender = message["From"].addresses[0].addr_spec
        recipient = message["To"].addresses[0].addr_spec
        international = not (sender + recipient).isascii()
        policy = message.policy.clone(linesep="\r\n", utf8=international)  # type: ignore[call-arg]
        data = message.as_bytes(policy=policy)
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as err:
            raise _refused(err.smtp_code, err.smtp_error, message, "greeting") from None
        except ssl.SSLCertVerificationError as err:
            raise self._untrusted(err) from None
        except OSError as err:  # refused, unreachable, timed out: nothing was sent
            raise ProviderUnavailable(f"SMTP server {self.address} not reached: {err}") from None
        try:
            self._hand_over(smtp, sender, recipient, data, message, international=international)
        finally:
            _quit(smtp)
        return str(message["Message-ID"])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.tls_context
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _hand_over(
        self,
        smtp: smtplib.SMTP,
        sender: str,
        recipient: str,
        data: bytes,
        message: EmailMessage,
        *,
        international: bool,
    ) -> None:
        """Everything before DATA is safe to retry; DATA's end is where it may be taken.
        `international`: an address is not ASCII, so the server must offer SMTPUTF8."""
        stage = "before DATA"
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
            options = ["BODY=8BITMIME"] if smtp.has_extn("8bitmime") else []
            if international:
                if not smtp.has_extn("smtputf8"):
                    raise ProviderRejected(
                        f"SMTP server {self.address} does not offer SMTPUTF8, which an address "
                        "that is not ASCII needs; use a server that does, or another address"
                    )
                options.append("SMTPUTF8")  # smtplib then sends the addresses as UTF-8
            code, reply = smtp.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            stage = "DATA"
            code, reply = smtp.data(data)  # smtplib returns, not raises, a refused end of DATA
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except smtplib.SMTPRecipientsRefused as err:
            code, reply = next(iter(err.recipients.values()))
            raise _refused(code, reply, message, "recipient") from None
        except smtplib.SMTPResponseException as err:  # a reply: nothing was taken
            raise _refused(err.smtp_code, err.smtp_error, message, stage) from None
        except ssl.SSLCertVerificationError as err:
            raise self._untrusted(err) from None
        except smtplib.SMTPServerDisconnected as err:
            raise self._lost(err, stage) from None
        except smtplib.SMTPException as err:  # no STARTTLS, no AUTH method we can use
            raise ProviderRejected(
                f"SMTP server {self.address}: {err}; check NURTURE_SMTP_*"
            ) from None
        except OSError as err:  # reset, timed out
            raise self._lost(err, stage) from None

    def _lost(self, err: OSError, stage: str) -> ProviderError:
        if stage == "DATA":
            return DeliveryUncertain(
                f"SMTP connection to {self.address} lost during DATA ({err}): the server "
                "may have taken the message, so it is not retried"
            )
        return ProviderUnavailable(f"SMTP connection to {self.address} lost: {err}")

    def _untrusted(self, err: ssl.SSLCertVerificationError) -> ProviderError:
        return ProviderRejected(
            f"SMTP server {self.address}: its TLS certificate is not trusted "
            f"({err.verify_message}); add its CA to the trust store (SSL_CERT_FILE)"
        )


def tag(message: EmailMessage, tags: SendTags) -> None:
    """Our ids as headers, for whoever reads the relay's logs or bounces: opaque ids and
    labels, no personal data. Replaces, so a message tagged twice carries each once."""
    for name, value in (
        ("X-Nurture-Send-Id", tags.send_id),
        ("X-Nurture-Lead-Id", tags.lead_id),
        ("X-Nurture-Product", tags.product),
        ("X-Nurture-Mail-Type", tags.mail_type),
    ):
        del message[name]
        message[name] = value


def _refused(code: int, reply: bytes | str, message: EmailMessage, stage: str) -> ProviderError:
    """4xx: a transient refusal, retried; 5xx (and anything else): permanent, the send fails."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    said = without_recipient(f"{code} {text}", message)
    if 400 <= code < 500:
        return ProviderUnavailable(f"SMTP server deferred the message ({stage}): {said}")
    return ProviderRejected(f"SMTP server refused the message ({stage}): {said}")


def _quit(smtp: smtplib.SMTP) -> None:
    """The message's fate is settled by now; a failing QUIT changes nothing."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
