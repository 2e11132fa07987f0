"""Building the MIME message: both parts, the sender identity, and one-click unsubscribe headers."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from nurture.mail.render import EmailContent
from nurture.scenario.model import Sender

# RFC 5322's line limit, not the default 78: folding a long List-Unsubscribe URL at 78 makes
# the email package RFC 2047-encode it, and mail clients then cannot read the link (RFC 2369).
POLICY = policy.default.clone(max_line_length=998)


def build_message(
    content: EmailContent,
    *,
    sender: Sender,
    to_email: str,
    to_name: str,
    unsubscribe_url: str,
    send_id: str,
    sent_at: datetime,
) -> EmailMessage:
    """An RFC 5322 message with text and HTML parts and RFC 8058 List-Unsubscribe headers."""
    message = EmailMessage(policy=POLICY)
    from_user, from_domain = sender.from_email.split("@", 1)
    to_user, to_domain = to_email.split("@", 1)
    message["From"] = Address(sender.from_name, from_user, from_domain)
    message["To"] = Address(to_name, to_user, to_domain)
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["Subject"] = content.subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(idstring=send_id, domain=from_domain)
    message["List-Unsubscribe"] = (
        f"<{unsubscribe_url}>, <mailto:{sender.reply_to or sender.from_email}"
        f"?subject=unsubscribe%20{send_id}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Nurture-Send-Id"] = send_id
    message.set_content(content.text, charset="utf-8")
    message.add_alternative(content.html, subtype="html", charset="utf-8")
    return message
