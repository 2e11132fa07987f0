"""Emails to our own sales team about a hand-off: the hand-off itself, the SLA reminder, the
escalation.

They go to a colleague, not to the lead, so they carry the lead's details (that is the
point: who to call and why) and no unsubscribe link. Built from the hand-off's stored
payload (activities/handoff.py), the same one the CRM webhook receives.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Literal
from zoneinfo import ZoneInfo

from nurture.mail.message import POLICY
from nurture.scenario.model import Brand

SalesMailKind = Literal["handoff", "remind", "escalate"]


@dataclass(frozen=True)
class SalesNotice:
    """Which email, to whom, and for the SLA ones how many business days have passed."""

    kind: SalesMailKind
    to: str
    business_days: int = 0
    timezone: str = "UTC"


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


def sales_message(
    notice: SalesNotice,
    payload: dict[str, Any],
    brand: Brand,
    *,
    send_id: str,
    sent_at: datetime,
) -> EmailMessage:
    """A plain-text and an HTML part from the same sections, so every provider can send it."""
    subject, intro, sections = sales_notice(notice, payload, brand)
    lead_id = (payload.get("lead") or {}).get("id", "")
    footer = (
        "Answer with sales feedback (accepted, contacted, rejected, disqualified, ...) in "
        f"your CRM or POST /v1/leads/{lead_id}/feedback; reminders stop once it is recorded."
    )
    message = EmailMessage(policy=POLICY)
    sender_user, sender_domain = brand.sender.from_email.split("@", 1)
    to_user, to_domain = notice.to.split("@", 1)
    message["From"] = Address(f"{brand.name} (Nurture)", sender_user, sender_domain)
    message["To"] = Address("", to_user, to_domain)
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(idstring=send_id, domain=sender_domain)
    message["X-Nurture-Send-Id"] = send_id
    message.set_content(_text(intro, sections, footer), charset="utf-8")
    message.add_alternative(_html(intro, sections, footer), subtype="html", charset="utf-8")
    return message


def sales_notice(
    notice: SalesNotice, payload: dict[str, Any], brand: Brand
) -> tuple[str, str, list[Section]]:
    """What sales is told, whatever carries it (an email, a Slack message): the headline,
    its first line, and the sections."""
    subject, intro = _headline(notice, payload, brand)
    sections = [
        Section("Lead", _lead_lines(payload)),
        Section("Score", _score_lines(payload)),
        Section("Interesting moments", list(payload.get("moments") or ["(none recorded)"])),
        Section("Emails opened and clicked", _email_lines(payload)),
        Section("Journey", [str(payload.get("journey_url", ""))]),
    ]
    return subject, intro, sections


def _headline(notice: SalesNotice, payload: dict[str, Any], brand: Brand) -> tuple[str, str]:
    """Subject and first line: who, and what is asked of the reader."""
    lead = payload.get("lead") or {}
    who = lead.get("name") or lead.get("email") or lead.get("id", "a lead")
    if lead.get("company"):
        who += f" ({lead['company']})"
    number = payload.get("handoff_no", 1)
    score = (payload.get("score") or {}).get("total")
    handed = _local(payload.get("handed_off_at"), notice.timezone)
    if notice.kind == "handoff":
        return (
            f"[{brand.name}] Hot lead for sales: {who}, score {score}",
            f"{brand.name} hands you a lead ready for sales (hand-off #{number}).",
        )
    days = f"{notice.business_days} business day" + ("s" if notice.business_days != 1 else "")
    if notice.kind == "remind":
        return (
            f"[{brand.name}] Reminder: no feedback yet on {who}",
            f"{who} was handed to sales {handed} (hand-off #{number}) and has had no sales "
            f"feedback for {days}. Please follow up and record the outcome.",
        )
    return (
        f"[{brand.name}] Escalation: {who} has waited {days} for sales",
        f"{who} was handed to sales {handed} (hand-off #{number}); the owner was reminded, "
        f"and after {days} there is still no sales feedback. Please see that someone "
        "follows up.",
    )


def _lead_lines(payload: dict[str, Any]) -> list[str]:
    lead = payload.get("lead") or {}
    fields = [("name", "Name"), ("title", "Title"), ("company", "Company"), ("email", "Email")]
    lines = [f"{label}: {lead[key]}" for key, label in fields if lead.get(key)]
    return [*lines, f"Lead id: {lead.get('id', '')}", f"Product: {payload.get('product', '')}"]


def _score_lines(payload: dict[str, Any]) -> list[str]:
    score = payload.get("score") or {}
    lines = [
        f"Total {score.get('total', 0)} = fit {score.get('fit', 0)} "
        f"+ behaviour {score.get('behavior', 0)}"
    ]
    for rule in sorted(score.get("rules") or [], key=lambda r: -int(r.get("points", 0))):
        detail = f" ({rule['detail']})" if rule.get("detail") else ""
        lines.append(f"{rule.get('rule')}: {int(rule.get('points', 0)):+d}{detail}")
    return lines


def _local(moment: str | None, timezone: str) -> str:
    if not moment:
        return "earlier"
    local = datetime.fromisoformat(moment).astimezone(ZoneInfo(timezone))
    return f"on {local:%a %Y-%m-%d %H:%M} ({timezone})"


def _text(intro: str, sections: list[Section], footer: str) -> str:
    parts = [intro, ""]
    for section in sections:
        parts.append(section.title)
        parts.extend(f"  - {line}" for line in section.lines)
        parts.append("")
    parts.append(footer)
    return "\n".join(parts) + "\n"


def _html(intro: str, sections: list[Section], footer: str) -> str:
    e = html.escape
    body = [f"<p>{e(intro)}</p>"]
    for section in sections:
        items = "".join(f"<li>{_linked(line)}</li>" for line in section.lines)
        body.append(f"<h3>{e(section.title)}</h3><ul>{items}</ul>")
    body.append(f"<p><small>{e(footer)}</small></p>")
    return "<!doctype html><html><body>" + "".join(body) + "</body></html>"


def _linked(line: str) -> str:
    """The journey link clickable; everything else escaped text."""
    if line.startswith(("http://", "https://")) and " " not in line:
        return f'<a href="{html.escape(line, quote=True)}">{html.escape(line)}</a>'
    return html.escape(line)


def _email_lines(payload: dict[str, Any]) -> list[str]:
    emails = payload.get("emails") or []
    if not emails:
        return ["(no human opens or clicks recorded)"]
    return [
        f"{'clicked' if e.get('clicked') else 'opened'}: {e.get('subject', '')} "
        f"({e.get('mail_type', '')}, sent {str(e.get('sent_at', ''))[:10]})"
        for e in emails
    ]
