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


# Every word sales reads, in the scenario's locale (cloudbook's sales team reads Japanese).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "handoff_subject": "[{brand}] Hot lead for sales: {who}, score {score}",
        "handoff_intro": "{brand} hands you a lead ready for sales (hand-off #{number}).",
        "remind_subject": "[{brand}] Reminder: no feedback yet on {who}",
        "remind_intro": (
            "{who} was handed to sales {handed} (hand-off #{number}) and has had no sales "
            "feedback for {days}. Please follow up and record the outcome."
        ),
        "escalate_subject": "[{brand}] Escalation: {who} has waited {days} for sales",
        "escalate_intro": (
            "{who} was handed to sales {handed} (hand-off #{number}); the owner was reminded, "
            "and after {days} there is still no sales feedback. Please see that someone "
            "follows up."
        ),
        "days": "{n} business day",
        "days_plural": "{n} business days",
        "a_lead": "a lead",
        "lead": "Lead",
        "score": "Score",
        "moments": "Interesting moments",
        "none_recorded": "(none recorded)",
        "emails": "Emails opened and clicked",
        "no_emails": "(no human opens or clicks recorded)",
        "journey": "Journey",
        "name": "Name",
        "title": "Title",
        "company": "Company",
        "email": "Email",
        "lead_id": "Lead id",
        "product": "Product",
        "total": "Total {total} = fit {fit} + behaviour {behavior}",
        "clicked": "clicked",
        "opened": "opened",
        "sent": "sent",
        "earlier": "earlier",
        "on": "on {when} ({zone})",
        "footer": (
            "Answer with sales feedback (accepted, contacted, rejected, disqualified, ...) in "
            "your CRM or POST /v1/leads/{lead_id}/feedback; reminders stop once it is recorded."
        ),
    },
    "ja": {
        "handoff_subject": "[{brand}] 営業対応をお願いします: {who} (スコア {score})",
        "handoff_intro": (
            "{brand} から、営業対応の準備ができたリードをお渡しします(引き渡し #{number})。"
        ),
        "remind_subject": "[{brand}] リマインド: {who} の営業フィードバックが未登録です",
        "remind_intro": (
            "{who} は {handed} に営業へ引き渡されました(引き渡し #{number})が、{days}"
            "フィードバックがありません。対応のうえ、結果を登録してください。"
        ),
        "escalate_subject": "[{brand}] エスカレーション: {who} が{days}営業対応を待っています",
        "escalate_intro": (
            "{who} は {handed} に営業へ引き渡されました(引き渡し #{number})。担当者へのリマインド"
            "後も、{days}フィードバックがありません。対応者の確認をお願いします。"
        ),
        "days": "{n}営業日",
        "days_plural": "{n}営業日",
        "a_lead": "リード",
        "lead": "リード",
        "score": "スコア",
        "moments": "注目すべき行動",
        "none_recorded": "(記録なし)",
        "emails": "開封・クリックされたメール",
        "no_emails": "(人による開封・クリックの記録なし)",
        "journey": "ジャーニー",
        "name": "氏名",
        "title": "役職",
        "company": "会社名",
        "email": "メールアドレス",
        "lead_id": "リードID",
        "product": "製品",
        "total": "合計 {total} = 属性 {fit} + 行動 {behavior}",
        "clicked": "クリック",
        "opened": "開封",
        "sent": "送信",
        "earlier": "以前",
        "on": "{when}({zone})",
        "footer": (
            "営業フィードバック(accepted, contacted, rejected, disqualified など)を CRM "
            "または POST /v1/leads/{lead_id}/feedback で登録してください。"
            "登録されるとリマインドは止まります。"
        ),
    },
}


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
    footer = TEXTS[brand.locale]["footer"].format(lead_id=lead_id)
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
    """What sales is told, whatever carries it (an email, a Slack message), in the
    scenario's locale: the headline, its first line, and the sections."""
    said = TEXTS[brand.locale]
    subject, intro = _headline(notice, payload, brand, said)
    sections = [
        Section(said["lead"], _lead_lines(payload, said)),
        Section(said["score"], _score_lines(payload, said)),
        Section(said["moments"], list(payload.get("moments") or [said["none_recorded"]])),
        Section(said["emails"], _email_lines(payload, said)),
        Section(said["journey"], [str(payload.get("journey_url", ""))]),
    ]
    return subject, intro, sections


def _headline(
    notice: SalesNotice, payload: dict[str, Any], brand: Brand, said: dict[str, str]
) -> tuple[str, str]:
    """Subject and first line: who, and what is asked of the reader."""
    lead = payload.get("lead") or {}
    who = lead.get("name") or lead.get("email") or lead.get("id", said["a_lead"])
    if lead.get("company"):
        who += f" ({lead['company']})"
    n = notice.business_days
    values = {
        "brand": brand.name,
        "who": who,
        "number": payload.get("handoff_no", 1),
        "score": (payload.get("score") or {}).get("total"),
        "handed": _local(payload.get("handed_off_at"), notice.timezone, said),
        "days": said["days" if n == 1 else "days_plural"].format(n=n),
    }
    kind = notice.kind
    return said[f"{kind}_subject"].format(**values), said[f"{kind}_intro"].format(**values)


def _lead_lines(payload: dict[str, Any], said: dict[str, str]) -> list[str]:
    lead = payload.get("lead") or {}
    fields = ["name", "title", "company", "email"]
    lines = [f"{said[key]}: {lead[key]}" for key in fields if lead.get(key)]
    return [
        *lines,
        f"{said['lead_id']}: {lead.get('id', '')}",
        f"{said['product']}: {payload.get('product', '')}",
    ]


def _score_lines(payload: dict[str, Any], said: dict[str, str]) -> list[str]:
    score = payload.get("score") or {}
    lines = [
        said["total"].format(
            total=score.get("total", 0), fit=score.get("fit", 0), behavior=score.get("behavior", 0)
        )
    ]
    for rule in sorted(score.get("rules") or [], key=lambda r: -int(r.get("points", 0))):
        detail = f" ({rule['detail']})" if rule.get("detail") else ""
        lines.append(f"{rule.get('rule')}: {int(rule.get('points', 0)):+d}{detail}")
    return lines


def _local(moment: str | None, timezone: str, said: dict[str, str]) -> str:
    if not moment:
        return said["earlier"]
    local = datetime.fromisoformat(moment).astimezone(ZoneInfo(timezone))
    return said["on"].format(when=f"{local:%a %Y-%m-%d %H:%M}", zone=timezone)


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


def _email_lines(payload: dict[str, Any], said: dict[str, str]) -> list[str]:
    emails = payload.get("emails") or []
    if not emails:
        return [said["no_emails"]]
    return [
        f"{said['clicked'] if e.get('clicked') else said['opened']}: {e.get('subject', '')} "
        f"({e.get('mail_type', '')}, {said['sent']} {str(e.get('sent_at', ''))[:10]})"
        for e in emails
    ]
