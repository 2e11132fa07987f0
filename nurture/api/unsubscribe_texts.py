"""Every word of the preference page and the one-click answer, in the scenario's locale.

A lead reads these in the language of the emails it got (the scenario's `locale`, ja or
en); they live here together so a translator sees them side by side. Placeholders:
{name} the product's name, {types} a list of mail types, {contact} the sender's contact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Locale = Literal["ja", "en"]

MAIL_TYPE_LABELS: dict[Locale, dict[str, str]] = {
    "en": {
        "newsletter": "Newsletter",
        "step": "Our regular emails (guides, case studies, invitations)",
        "trigger": "Emails about what you looked at on our site",
    },
    "ja": {
        "newsletter": "メールマガジン",
        "step": "定期的なお役立ち情報(資料・事例・セミナーのご案内)",
        "trigger": "ご覧になった内容に合わせたご案内",
    },
}

TEXTS: dict[Locale, dict[str, str]] = {
    "en": {
        "title": "Email preferences",
        "intro": "Choose which emails from {name} you receive.",
        "receiving": "You currently receive: {types}.",
        "receiving_none": "You currently receive no emails from {name}.",
        "unsubscribed": "You are unsubscribed from all emails from {name}.",
        "on": "on",
        "off": "off",
        "save": "Save my choices",
        "stop_all": "Unsubscribe from all emails from {name}",
        "resubscribe_note": (
            "Turning emails back on after you unsubscribed from all of them lifts that "
            "unsubscribe and records your consent again, from today. It does not restart a "
            "series of emails that ended when you unsubscribed; it applies to emails we "
            "send from now on."
        ),
        "blocked": (
            "We are not sending email from {name} to this address ({reason}), and this page "
            "cannot change that. To receive our emails again, contact us: {contact}"
        ),
        "one_click_done": "You are unsubscribed from all emails from {name}.",
        "saved": "Your choices are saved.",
        "resubscribed": (
            "Welcome back: your unsubscribe from {name} is lifted and your consent is "
            "recorded. A series of emails that ended when you unsubscribed does not restart."
        ),
        "now_stopped_all": (
            "You are unsubscribed from all emails from {name}. You can turn them back on "
            "on this page at any time."
        ),
        "nothing_changed": "Nothing changed.",
        "back": "Back to my email preferences",
        "line_on": "You also receive messages from {name} on LINE.",
        "line_off": "You do not receive messages from {name} on LINE.",
        "stop_line": "Stop LINE messages from {name}",
        "line_stopped": (
            "LINE messages from {name} are stopped; emails are as you chose. To receive them "
            "again, link LINE again from one of our emails."
        ),
    },
    "ja": {
        "title": "メール配信の設定",
        "intro": "{name} からお送りするメールのうち、受け取るものをお選びください。",
        "receiving": "現在お受け取りのメール: {types}",
        "receiving_none": "現在、{name} からのメールはお送りしていません。",
        "unsubscribed": "現在、{name} からのすべてのメールの配信を停止しています。",
        "on": "受信中",
        "off": "停止中",
        "save": "この内容で保存する",
        "stop_all": "{name} からのすべてのメールを停止する",
        "resubscribe_note": (
            "すべてのメールを停止したあとで受信を再開すると、配信停止を解除し、本日付で"
            "改めて受信への同意を記録します。配信停止によって終了した一連のメールは再開されず、"
            "今後お送りするメールから対象となります。"
        ),
        "blocked": (
            "このメールアドレスへの {name} からのメール配信は停止しています({reason})。"
            "このページでは変更できません。再開をご希望の場合はお問い合わせください: {contact}"
        ),
        "one_click_done": "{name} からのすべてのメールの配信を停止しました。",
        "saved": "設定を保存しました。",
        "resubscribed": (
            "{name} からのメールの配信停止を解除し、受信への同意を記録しました。"
            "配信停止によって終了した一連のメールは再開されません。"
        ),
        "now_stopped_all": (
            "{name} からのすべてのメールの配信を停止しました。このページからいつでも"
            "受信を再開できます。"
        ),
        "nothing_changed": "変更はありません。",
        "back": "配信設定に戻る",
        "line_on": "{name} からのLINEメッセージも受け取っています。",
        "line_off": "{name} からのLINEメッセージは受け取っていません。",
        "stop_line": "{name} からのLINEメッセージを停止する",
        "line_stopped": (
            "{name} からのLINEメッセージを停止しました。メールの配信設定は変わりません。"
            "再開するには、メールに記載のリンクからもう一度LINEを連携してください。"
        ),
    },
}
# The consent a resubscribe records: what the lead agreed to, in its words.
RESUBSCRIBE_WORDING: dict[Locale, str] = {
    "en": "Turned emails from {name} back on ({types}) on the email preference page.",
    "ja": "メール配信設定ページで {name} からのメール({types})の受信を再開。",
}
LIST_SEPARATOR: dict[Locale, str] = {"en": ", ", "ja": "、"}


def text(locale: Locale, key: str, **values: str) -> str:
    return TEXTS[locale][key].format(**values)


def mail_types(locale: Locale, types: Sequence[str]) -> str:
    """The mail types as the lead reads them, e.g. 'Newsletter, Our regular emails'."""
    return LIST_SEPARATOR[locale].join(MAIL_TYPE_LABELS[locale][t] for t in types)
